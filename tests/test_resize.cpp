#include <cmath>

#include "autograd/engine.h"
#include "autograd/ops_pose.h"
#include "kernels/resize.h"
#include "tests/util.h"

using namespace wb;
namespace k = wb::kernels;

namespace {

k::ResizeParams to_size(int64_t oh, int64_t ow, bool align) {
  k::ResizeParams p;
  p.out_h = oh, p.out_w = ow;
  p.align_corners = align;
  return p;
}

// The output size interpolate derives from a scale factor.
k::ResizeParams by_scale(const Shape& x, double sh, double sw, bool align) {
  k::ResizeParams p = to_size(static_cast<int64_t>(std::floor(static_cast<double>(x[2]) * sh)),
                              static_cast<int64_t>(std::floor(static_cast<double>(x[3]) * sw)), align);
  p.scale_h = sh, p.scale_w = sw;
  return p;
}

struct ResizeCase {
  Shape x;
  k::ResizeParams p;
};

std::vector<ResizeCase> gradcheck_cases(bool align) {
  return {{{1, 2, 5, 7}, to_size(11, 13, align)},        // up, odd sizes
          {{2, 1, 9, 8}, to_size(4, 3, align)},          // down
          {{1, 1, 1, 4}, to_size(3, 5, align)},          // from a single row
          {{1, 2, 4, 3}, to_size(1, 1, align)},          // to a single pixel
          {{1, 2, 5, 7}, by_scale({1, 2, 5, 7}, 1.5, 1.5, align)},  // fractional scale
          {{1, 2, 3, 4}, by_scale({1, 2, 3, 4}, 2.0, 2.0, align)},  // integer scale
          {{1, 1, 7, 9}, by_scale({1, 1, 7, 9}, 0.5, 0.4, align)}};
}

std::string describe(const ResizeCase& c) {
  return shape_str(c.x) + " -> " + std::to_string(c.p.out_h) + "x" + std::to_string(c.p.out_w) +
         (c.p.align_corners ? " align_corners" : "") +
         (c.p.scale_h > 0 ? " scale " + std::to_string(c.p.scale_h) + "," + std::to_string(c.p.scale_w) : "");
}

}  // namespace

TEST_CASE("gradcheck: bilinear resize") {
  uint64_t seed = 1;
  for (bool align : {false, true}) {
    for (const ResizeCase& c : gradcheck_cases(align)) {
      const std::string what = describe(c);
      CAPTURE(what);
      const k::ResizeParams p = c.p;
      WB_GRADCHECK([p](const std::vector<Tensor>& v) { return ops::resize_bilinear(v[0], p); },
                   {test::randn64(c.x, seed++)});
    }
  }
}

TEST_CASE("gradcheck: nearest upsample") {
  uint64_t seed = 20;
  for (const ResizeCase& c : gradcheck_cases(false)) {
    const std::string what = describe(c);
    CAPTURE(what);
    const k::ResizeParams p = c.p;
    WB_GRADCHECK([p](const std::vector<Tensor>& v) { return ops::upsample_nearest(v[0], p); },
                 {test::randn64(c.x, seed++)});
  }
}

TEST_CASE("resize: values worked by hand") {
  const Tensor x = Tensor::from_vector(std::vector<double>{0.0, 1.0}, {1, 1, 1, 2}, DType::F64);
  // Half-pixel centres: sources -0.25 (clamped to 0), 0.25, 0.75, 1.25 (past the last pixel).
  WB_CHECK_CLOSE(k::resize_bilinear_forward(x, to_size(1, 4, false)),
                 Tensor::from_vector(std::vector<double>{0.0, 0.25, 0.75, 1.0}, {1, 1, 1, 4}, DType::F64), 1e-15, 0);
  // Corners aligned: sources 0, 1/3, 2/3, 1.
  WB_CHECK_CLOSE(k::resize_bilinear_forward(x, to_size(1, 4, true)),
                 Tensor::from_vector(std::vector<double>{0.0, 1.0 / 3, 2.0 / 3, 1.0}, {1, 1, 1, 4}, DType::F64),
                 1e-15, 0);
  // Nearest 2 -> 5: floor(o * 0.4) = 0, 0, 0, 1, 1; its gradient counts the copies.
  WB_CHECK_CLOSE(k::upsample_nearest_forward(x, to_size(1, 5, false)),
                 Tensor::from_vector(std::vector<double>{0, 0, 0, 1, 1}, {1, 1, 1, 5}, DType::F64), 0, 0);
  const Tensor ones = Tensor::ones({1, 1, 1, 5}, DType::F64);
  WB_CHECK_CLOSE(k::upsample_nearest_backward(ones, {1, 1, 1, 2}, to_size(1, 5, false)),
                 Tensor::from_vector(std::vector<double>{3, 2}, {1, 1, 1, 2}, DType::F64), 0, 0);
}

TEST_CASE("PyTorch parity: interpolate bilinear and nearest") {
  SafetensorsFile f;
  if (!test::load_reference("resize", f)) return;
  const int64_t count = static_cast<int64_t>(test::ref(f, "count").item());
  for (const char* dtype : {"f64", "f32"}) {
    const bool f64 = std::string(dtype) == "f64";
    for (int64_t i = 0; i < count; ++i) {
      const std::string key = std::string(dtype) + "." + std::to_string(i) + ".";
      const std::vector<double> q = test::ref(f, key + "params").to_double_vector();
      k::ResizeParams p = to_size(static_cast<int64_t>(q[0]), static_cast<int64_t>(q[1]), q[2] != 0.0);
      p.scale_h = q[3], p.scale_w = q[4];
      const bool bilinear = q[5] != 0.0;
      Tensor x = test::ref(f, key + "x").clone().set_requires_grad(true);
      const std::string what = key + (bilinear ? " bilinear " : " nearest ") + describe({x.shape(), p});
      CAPTURE(what);
      Tensor y = bilinear ? ops::resize_bilinear(x, p) : ops::upsample_nearest(x, p);
      autograd::backward(y, test::ref(f, key + "dy"));
      const double tol = f64 ? 1e-12 : 2e-6;
      WB_CHECK_CLOSE(y, test::ref(f, key + "y"), tol, tol);
      // Absent where torch's own gradient is not the adjoint of its forward (gen_resize.py).
      if (f.tensors.count(key + "dx")) WB_CHECK_CLOSE(x.grad(), test::ref(f, key + "dx"), tol, tol);
    }
  }
}

TEST_CASE("resize: bad input names the op and the shapes") {
  const Tensor x = Tensor::zeros({1, 2, 4, 4});
  CHECK_THROWS_WITH_AS(k::resize_bilinear_forward(Tensor::zeros({2, 4, 4}), to_size(8, 8, false)),
                       doctest::Contains("resize_bilinear: input must be 4-d NCHW, got [2, 4, 4]"), Error);
  CHECK_THROWS_WITH_AS(k::upsample_nearest_forward(x, to_size(0, 8, false)),
                       doctest::Contains("upsample_nearest: output size 0x8 for input [1, 2, 4, 4]"), Error);
  k::ResizeParams bad_scale = to_size(9, 8, false);
  bad_scale.scale_h = bad_scale.scale_w = 2.0;
  CHECK_THROWS_WITH_AS(k::resize_bilinear_forward(x, bad_scale),
                       doctest::Contains("output height 9 is not floor(4 * scale 2)"), Error);
  CHECK_THROWS_WITH_AS(k::resize_bilinear_backward(Tensor::zeros({1, 2, 8, 7}), {1, 2, 4, 4}, to_size(8, 8, false)),
                       doctest::Contains("resize_bilinear_backward: gradient [1, 2, 8, 7] f32 cpu does not match "
                                         "the output [1, 2, 8, 8]"),
                       Error);
  CHECK_THROWS_WITH_AS(k::resize_bilinear_forward(Tensor::zeros({1, 2, 4, 4}, DType::I64), to_size(8, 8, false)),
                       doctest::Contains("resize_bilinear"), Error);
}
