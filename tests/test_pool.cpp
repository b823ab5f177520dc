#include <algorithm>
#include <numeric>
#include <random>
#include <string>

#include "autograd/engine.h"
#include "autograd/ops_pool.h"
#include "kernels/pool.h"
#include "tests/util.h"

using namespace wb;
using kernels::Pool2dParams;

namespace {

// A shuffled ramp with steps of 0.1: every window has a unique maximum, far apart compared with
// the finite-difference step, so max pooling is differentiable at the point checked.
Tensor distinct64(const Shape& shape, uint64_t seed) {
  std::vector<double> v(static_cast<size_t>(numel_of(shape)));
  std::iota(v.begin(), v.end(), 0.0);
  std::shuffle(v.begin(), v.end(), std::mt19937_64(seed));
  for (double& e : v) e = (e - static_cast<double>(v.size()) / 2) * 0.1;
  Tensor t = Tensor::from_vector(v, shape, DType::F64);
  t.set_requires_grad(true);
  return t;
}

Pool2dParams pool(int64_t k, int64_t s, int64_t pad, bool ceil_mode, bool count_include_pad = true) {
  Pool2dParams p;
  p.kernel = {k, k};
  p.stride = {s, s};
  p.padding = {pad, pad};
  p.ceil_mode = ceil_mode;
  p.count_include_pad = count_include_pad;
  return p;
}

struct Case {
  Shape shape;
  Pool2dParams p;
};

// Stride 1 and 2, odd sizes, padding, ceil_mode (with windows hanging over the edge), batch 1 and 3.
std::vector<Case> gradcheck_cases() {
  Pool2dParams rect = pool(3, 2, 1, false);
  rect.kernel = {3, 2};
  rect.stride = {1, 2};
  rect.padding = {1, 0};
  return {{{1, 2, 5, 5}, pool(2, 2, 0, false)},
          {{3, 2, 5, 7}, pool(3, 2, 1, false)},
          {{1, 3, 5, 4}, pool(3, 1, 1, false)},
          {{3, 1, 7, 5}, pool(2, 2, 0, true)},
          {{1, 2, 6, 7}, pool(3, 2, 1, true)},
          {{3, 2, 4, 5}, pool(2, 3, 1, true)},
          {{1, 1, 5, 6}, rect}};
}

std::string describe(const Case& c) {
  std::string s = shape_str(c.shape) + " k" + std::to_string(c.p.kernel[0]) + "x" + std::to_string(c.p.kernel[1]) +
                  " s" + std::to_string(c.p.stride[0]) + "x" + std::to_string(c.p.stride[1]) + " p" +
                  std::to_string(c.p.padding[0]) + "x" + std::to_string(c.p.padding[1]);
  return s + (c.p.ceil_mode ? " ceil" : "") + (c.p.count_include_pad ? "" : " exclude_pad");
}

}  // namespace

TEST_CASE("gradcheck: max, average and global average pooling") {
  uint64_t seed = 1;
  for (const Case& c : gradcheck_cases()) {
    const std::string what = describe(c);
    CAPTURE(what);
    WB_GRADCHECK([&](const std::vector<Tensor>& v) { return ops::max_pool2d(v[0], c.p); },
                 {distinct64(c.shape, seed++)});
    for (bool include : {true, false}) {
      Pool2dParams p = c.p;
      p.count_include_pad = include;
      CAPTURE(include);
      WB_GRADCHECK([&](const std::vector<Tensor>& v) { return ops::avg_pool2d(v[0], p); },
                   {test::randn64(c.shape, seed++)});
    }
  }
  for (const Shape& shape : {Shape{1, 3, 4, 5}, Shape{3, 2, 3, 3}, Shape{3, 2, 1, 1}}) {
    CAPTURE(shape_str(shape));
    WB_GRADCHECK([](const std::vector<Tensor>& v) { return ops::global_avg_pool(v[0]); },
                 {test::randn64(shape, seed++)});
  }
}

TEST_CASE("pooling output size: PyTorch's ceil_mode rule") {
  const Shape x{1, 1, 7, 4};
  CHECK(kernels::pool2d_output_hw(x, pool(2, 2, 0, false)) == std::array<int64_t, 2>{3, 2});
  CHECK(kernels::pool2d_output_hw(x, pool(2, 2, 0, true)) == std::array<int64_t, 2>{4, 2});
  // Width 4, kernel 2, stride 3, padding 1: ceil gives 3 windows, but the third would start at
  // column 5, past the input's last column 3, in the right padding only, so it is dropped.
  CHECK(kernels::pool2d_output_hw(x, pool(2, 3, 1, true)) == std::array<int64_t, 2>{3, 2});
  CHECK(kernels::pool2d_output_hw(x, pool(2, 3, 1, false)) == std::array<int64_t, 2>{3, 2});
}

TEST_CASE("pooling by hand: padding is -inf for max, counted or not for avg") {
  // 3x3 plane of -1 .. -9 and every window overlapping the padding: a zero-valued padding would
  // win each max.
  std::vector<double> v(9);
  for (int i = 0; i < 9; ++i) v[static_cast<size_t>(i)] = -(i + 1);
  const Tensor x = Tensor::from_vector(v, {1, 1, 3, 3}, DType::F64);
  const kernels::MaxPoolOut m = kernels::max_pool2d_forward(x, pool(3, 2, 1, false));
  WB_CHECK_CLOSE(m.y, Tensor::from_vector(std::vector<double>{-1, -2, -4, -5}, {1, 1, 2, 2}, DType::F64), 0, 0);
  WB_CHECK_CLOSE(m.indices, Tensor::from_vector(std::vector<double>{0, 1, 3, 4}, {1, 1, 2, 2}, DType::I64), 0, 0);
  const Tensor dx = kernels::max_pool2d_backward(Tensor::ones({1, 1, 2, 2}, DType::F64), m.indices, x.shape());
  WB_CHECK_CLOSE(dx, Tensor::from_vector(std::vector<double>{1, 1, 0, 1, 1, 0, 0, 0, 0}, {1, 1, 3, 3}, DType::F64), 0,
                 0);

  const Tensor ones = Tensor::ones({1, 1, 3, 3}, DType::F64);
  // Corner windows of a 3x3 kernel with padding 1 cover 4 inputs of 9 places.
  const Tensor incl = kernels::avg_pool2d_forward(ones, pool(3, 1, 1, false, true));
  const Tensor excl = kernels::avg_pool2d_forward(ones, pool(3, 1, 1, false, false));
  WB_CHECK_CLOSE(incl.narrow(2, 0, 1).narrow(3, 0, 1), Tensor::full({1, 1, 1, 1}, 4.0 / 9.0, DType::F64), 1e-15, 0);
  WB_CHECK_CLOSE(incl.narrow(2, 1, 1).narrow(3, 1, 1), Tensor::full({1, 1, 1, 1}, 1.0, DType::F64), 1e-15, 0);
  WB_CHECK_CLOSE(excl, Tensor::ones({1, 1, 3, 3}, DType::F64), 1e-15, 0);
  // ceil_mode overhang past the input (no padding): the last window holds one input, and the
  // overhang is not counted even under count_include_pad.
  const Tensor over = kernels::avg_pool2d_forward(ones, pool(2, 2, 0, true, true));
  WB_CHECK_CLOSE(over, Tensor::ones({1, 1, 2, 2}, DType::F64), 1e-15, 0);
}

TEST_CASE("PyTorch parity: max, average and global average pooling, f64 and f32") {
  SafetensorsFile f;
  if (!test::load_reference("pool", f)) return;
  for (const char* kind : {"max", "avg"}) {
    int cases = 0;
    for (int i = 0; f.tensors.count(std::string(kind) + "." + std::to_string(i) + ".params"); ++i, ++cases) {
      const std::string pre = std::string(kind) + "." + std::to_string(i) + ".";
      const std::vector<double> q = test::ref(f, pre + "params").to_double_vector();
      Pool2dParams p;
      p.kernel = {static_cast<int64_t>(q[0]), static_cast<int64_t>(q[1])};
      p.stride = {static_cast<int64_t>(q[2]), static_cast<int64_t>(q[3])};
      p.padding = {static_cast<int64_t>(q[4]), static_cast<int64_t>(q[5])};
      p.ceil_mode = q[6] != 0;
      p.count_include_pad = q[7] != 0;
      for (const char* suffix : {"f64", "f32"}) {
        const std::string what = pre + suffix;
        CAPTURE(what);
        const double tol = std::string(suffix) == "f32" ? 1e-6 : 1e-13;
        Tensor x = test::ref(f, pre + "x." + suffix).clone().set_requires_grad(true);
        const Tensor y = std::string(kind) == "max" ? ops::max_pool2d(x, p) : ops::avg_pool2d(x, p);
        WB_CHECK_CLOSE(y, test::ref(f, pre + "y." + suffix), tol, tol);
        autograd::backward(y, test::ref(f, pre + "dy." + suffix));
        WB_CHECK_CLOSE(x.grad(), test::ref(f, pre + "dx." + suffix), tol, tol);
        if (std::string(kind) == "max") {
          WB_CHECK_CLOSE(kernels::max_pool2d_forward(x, p).indices, test::ref(f, pre + "idx." + suffix), 0, 0);
        }
      }
    }
    CHECK_MESSAGE(cases > 0, "no ", kind, " cases in the reference");
  }
  int cases = 0;
  for (int i = 0; f.tensors.count("global." + std::to_string(i) + ".x.f64"); ++i, ++cases) {
    for (const char* suffix : {"f64", "f32"}) {
      const std::string pre = "global." + std::to_string(i) + ".", what = pre + suffix;
      CAPTURE(what);
      const double tol = std::string(suffix) == "f32" ? 1e-6 : 1e-13;
      Tensor x = test::ref(f, pre + "x." + suffix).clone().set_requires_grad(true);
      const Tensor y = ops::global_avg_pool(x);
      WB_CHECK_CLOSE(y, test::ref(f, pre + "y." + suffix), tol, tol);
      autograd::backward(y, test::ref(f, pre + "dy." + suffix));
      WB_CHECK_CLOSE(x.grad(), test::ref(f, pre + "dx." + suffix), tol, tol);
    }
  }
  CHECK(cases > 0);
}

TEST_CASE("pooling: bad input names the op and the shapes") {
  const Tensor x = Tensor::zeros({2, 3, 5, 5});
  CHECK_THROWS_WITH_AS(ops::max_pool2d(Tensor::zeros({3, 5, 5}), pool(2, 2, 0, false)),
                       doctest::Contains("max_pool2d: x must be [N, C, H, W], got [3, 5, 5]"), Error);
  CHECK_THROWS_WITH_AS(ops::avg_pool2d(x, pool(3, 2, 2, false)),
                       doctest::Contains("avg_pool2d: padding (2, 2) must be between 0 and half the kernel (3, 3)"),
                       Error);
  CHECK_THROWS_WITH_AS(ops::max_pool2d(x, pool(0, 2, 0, false)), doctest::Contains("must be positive"), Error);
  CHECK_THROWS_WITH_AS(ops::max_pool2d(Tensor::zeros({1, 1, 2, 2}), pool(3, 1, 0, false)),
                       doctest::Contains("max_pool2d: input [1, 1, 2, 2] with kernel (3, 3)"), Error);
  CHECK_THROWS_WITH_AS(ops::max_pool2d(Tensor::zeros({2, 3, 5, 5}, DType::I64), pool(2, 2, 0, false)),
                       doctest::Contains("max_pool2d: dtype i64"), Error);
  CHECK_THROWS_WITH_AS(kernels::avg_pool2d_backward(Tensor::zeros({2, 3, 3, 3}), x.shape(), pool(2, 2, 0, false)),
                       doctest::Contains("avg_pool2d_backward: gradient [2, 3, 3, 3] f32 cpu does not match the output "
                                         "[2, 3, 2, 2] of input [2, 3, 5, 5]"),
                       Error);
  const Tensor bad_idx = Tensor::full({2, 3, 2, 2}, 25.0, DType::I64);
  CHECK_THROWS_WITH_AS(kernels::max_pool2d_backward(Tensor::zeros({2, 3, 2, 2}), bad_idx, x.shape()),
                       doctest::Contains("max_pool2d_backward: indices [2, 3, 2, 2] i64 cpu point outside"), Error);
  CHECK_THROWS_WITH_AS(
      kernels::max_pool2d_backward(Tensor::zeros({2, 3, 2, 2}), Tensor::zeros({2, 3, 2, 2}), x.shape()),
      doctest::Contains("indices must be i64"), Error);
  CHECK_THROWS_WITH_AS(ops::global_avg_pool(Tensor::zeros({3, 4})),
                       doctest::Contains("global_avg_pool: x must be 4-d, got [3, 4]"), Error);
  CHECK_THROWS_WITH_AS(
      kernels::global_avg_pool_backward(Tensor::zeros({2, 3, 2, 1}), x.shape()),
      doctest::Contains(
          "global_avg_pool_backward: gradient [2, 3, 2, 1] f32 cpu does not match the output [2, 3, 1, 1]"),
      Error);
}
