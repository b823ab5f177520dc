#include <algorithm>
#include <cmath>
#include <string>

#include "autograd/engine.h"
#include "autograd/ops_conv.h"
#include "kernels/conv.h"
#include "kernels/elementwise.h"
#include "kernels/linear.h"
#include "tests/conv3x3_routes.h"
#include "tests/util.h"

using namespace wb;
using kernels::Conv2dParams;

namespace {

Conv2dParams params(int64_t stride, int64_t padding, int64_t dilation, int64_t groups,
                    int64_t output_padding = 0) {
  Conv2dParams p;
  p.stride = {stride, stride};
  p.padding = {padding, padding};
  p.dilation = {dilation, dilation};
  p.output_padding = {output_padding, output_padding};
  p.groups = groups;
  return p;
}

struct ConvCase {
  const char* name;
  Shape x, w;
  Conv2dParams p;
  bool bias;
};

// Gradients of every input (bias included when present) against central differences.
void gradcheck_conv(const ConvCase& c, bool transposed, uint64_t seed) {
  CAPTURE(std::string(c.name));
  const int64_t out_channels = transposed ? c.w[1] * c.p.groups : c.w[0];
  std::vector<Tensor> in{test::randn64(c.x, seed), test::randn64(c.w, seed + 1)};
  if (c.bias) in.push_back(test::randn64({out_channels}, seed + 2));
  const Conv2dParams p = c.p;
  WB_GRADCHECK(
      [p, transposed](const std::vector<Tensor>& v) {
        const Tensor b = v.size() > 2 ? v[2] : Tensor();
        return transposed ? ops::conv_transpose2d(v[0], v[1], b, p) : ops::conv2d(v[0], v[1], b, p);
      },
      in);
}

}  // namespace

TEST_CASE("gradcheck: conv2d") {
  Conv2dParams asym = params(1, 0, 1, 1);
  asym.stride = {2, 1};
  asym.padding = {0, 2};
  asym.dilation = {1, 2};
  const ConvCase cases[] = {
      {"3x3 dense, odd size", {1, 3, 5, 7}, {4, 3, 3, 3}, params(1, 1, 1, 1), true},
      {"3x3 stride 2, batch 3", {3, 2, 7, 6}, {3, 2, 3, 3}, params(2, 1, 1, 1), false},
      {"3x3 dilation 2", {1, 2, 7, 7}, {2, 2, 3, 3}, params(1, 2, 2, 1), true},
      {"5x5 groups 4", {1, 8, 6, 5}, {4, 2, 5, 5}, params(1, 2, 1, 4), true},
      {"depthwise 3x3 stride 2", {3, 4, 7, 5}, {4, 1, 3, 3}, params(2, 1, 1, 4), true},
      {"depthwise multiplier 2, dilation 2", {1, 3, 6, 7}, {6, 1, 3, 3}, params(1, 1, 2, 3), false},
      {"1x1 pointwise", {3, 5, 3, 4}, {6, 5, 1, 1}, params(1, 0, 1, 1), true},
      {"1x1 stride 2 groups 2", {1, 4, 5, 5}, {2, 2, 1, 1}, params(2, 0, 1, 2), false},
      {"asymmetric stride, padding, dilation", {1, 2, 6, 5}, {3, 2, 2, 3}, asym, true},
  };
  uint64_t seed = 10;
  for (const ConvCase& c : cases) gradcheck_conv(c, false, seed += 3);
}

TEST_CASE("gradcheck: conv_transpose2d") {
  const ConvCase cases[] = {
      {"3x3 dense, odd size", {1, 3, 3, 5}, {3, 2, 3, 3}, params(1, 1, 1, 1), true},
      {"4x4 stride 2 groups 2, batch 3", {3, 4, 3, 3}, {4, 1, 4, 4}, params(2, 1, 1, 2), true},
      {"3x3 stride 2 output_padding 1", {1, 2, 3, 4}, {2, 3, 3, 3}, params(2, 1, 1, 1, 1), false},
      {"3x3 dilation 2", {1, 2, 4, 3}, {2, 2, 3, 3}, params(1, 2, 2, 1), true},
      {"5x5 groups 4", {1, 4, 3, 3}, {4, 2, 5, 5}, params(1, 2, 1, 4), false},
      {"depthwise 3x3 stride 2", {3, 3, 3, 4}, {3, 1, 3, 3}, params(2, 1, 1, 3), true},
      {"1x1", {2, 3, 3, 2}, {3, 4, 1, 1}, params(1, 0, 1, 1), true},
  };
  uint64_t seed = 100;
  for (const ConvCase& c : cases) gradcheck_conv(c, true, seed += 3);
}

TEST_CASE("gradcheck: linear") {
  auto with_bias = [](const std::vector<Tensor>& v) { return ops::linear(v[0], v[1], v[2]); };
  auto without = [](const std::vector<Tensor>& v) { return ops::linear(v[0], v[1], Tensor()); };
  WB_GRADCHECK(with_bias, {test::randn64({3, 5}, 1), test::randn64({4, 5}, 2), test::randn64({4}, 3)});
  WB_GRADCHECK(with_bias, {test::randn64({1, 7}, 4), test::randn64({1, 7}, 5), test::randn64({1}, 6)});
  WB_GRADCHECK(without, {test::randn64({6, 2}, 7), test::randn64({3, 2}, 8)});
}

TEST_CASE("backward computes only the gradients asked for") {
  const Tensor x = test::randn64({2, 4, 5, 5}, 1, false), w = test::randn64({6, 2, 3, 3}, 2, false);
  const Conv2dParams p = params(1, 1, 1, 2);
  const Tensor dy = test::randn64({2, 6, 5, 5}, 3, false);
  const kernels::ConvGrads only_w = kernels::conv2d_backward(dy, x, w, p, false, true, false);
  CHECK_FALSE(only_w.dx.defined());
  CHECK(only_w.dw.defined());
  CHECK_FALSE(only_w.db.defined());
  const kernels::ConvGrads all = kernels::conv2d_backward(dy, x, w, p, true, true, true);
  WB_CHECK_CLOSE(only_w.dw, all.dw, 0, 0);

  // Through autograd: a frozen weight gets no gradient, the input does.
  Tensor xg = x.clone().set_requires_grad(true);
  autograd::backward(ops::conv2d(xg, w, Tensor(), p), dy);
  CHECK(xg.grad().defined());
  CHECK_FALSE(w.grad().defined());
}

TEST_CASE("conv2d batch-parallel and sample-serial paths agree") {
  // Batch 5 splits over the threads; each sample alone runs the GEMM-parallel path.
  const Tensor x = test::randn64({5, 6, 9, 8}, 1, false), w = test::randn64({4, 3, 3, 3}, 2, false);
  const Tensor dy = test::randn64({5, 4, 5, 4}, 3, false);
  const Conv2dParams p = params(2, 1, 1, 2);
  const Tensor y = kernels::conv2d_forward(x, w, Tensor(), p);
  const kernels::ConvGrads all = kernels::conv2d_backward(dy, x, w, p, true, true, false);
  Tensor dw_sum = Tensor::zeros(w.shape(), DType::F64);
  for (int64_t n = 0; n < 5; ++n) {
    CAPTURE(n);
    const Tensor xn = x.narrow(0, n, 1), dyn = dy.narrow(0, n, 1);
    WB_CHECK_CLOSE(kernels::conv2d_forward(xn, w, Tensor(), p), y.narrow(0, n, 1), 1e-13, 1e-13);
    const kernels::ConvGrads one = kernels::conv2d_backward(dyn, xn, w, p, true, true, false);
    WB_CHECK_CLOSE(one.dx, all.dx.narrow(0, n, 1), 1e-13, 1e-13);
    kernels::axpy_(dw_sum, 1.0, one.dw);
  }
  WB_CHECK_CLOSE(all.dw, dw_sum, 1e-12, 1e-12);
}

TEST_CASE("direct and Winograd f32 3x3 conv (forward with the fused epilogue, backward data) equal the f64 im2col conv") {
  test::check_conv3x3_routes();
}

TEST_CASE("the fused ReLU of conv2d refuses to record a gradient") {
  const Tensor x = test::randn64({1, 2, 4, 4}, 1), w = test::randn64({3, 2, 3, 3}, 2);
  Conv2dParams p = params(1, 1, 1, 1);
  p.relu = true;
  CHECK_THROWS_WITH(ops::conv2d(x, w, Tensor(), p), doctest::Contains("fused ReLU"));
}

TEST_CASE("pointwise conv2d over several bands of rows equals whole-image GEMMs") {
  // 256 channels x 128 columns: the CPU path splits the 9 output rows into bands (f32 and f64).
  for (DType dt : {DType::F32, DType::F64}) {
    CAPTURE(dtype_name(dt));
    const Tensor x = test::randn64({2, 256, 9, 128}, 1, false).to(dt), w = test::randn64({3, 256, 1, 1}, 2, false).to(dt);
    const Tensor dy = test::randn64({2, 3, 9, 128}, 3, false).to(dt);
    const Tensor y = kernels::conv2d_forward(x, w, Tensor(), params(1, 0, 1, 1));
    const kernels::ConvGrads g = kernels::conv2d_backward(dy, x, w, params(1, 0, 1, 1), true, true, false);
    const double atol = dt == DType::F32 ? 1e-3 : 1e-11, rtol = dt == DType::F32 ? 1e-5 : 1e-12;
    const Tensor w2 = w.view({3, 256});
    Tensor dw = Tensor::zeros({3, 256}, dt);
    for (int64_t n = 0; n < 2; ++n) {
      const Tensor xn = x.select(0, n).view({256, 9 * 128}), dyn = dy.select(0, n).view({3, 9 * 128});
      Tensor yn = Tensor::empty({3, 9 * 128}, dt), dxn = Tensor::empty({256, 9 * 128}, dt);
      kernels::gemm(false, false, 1.0, w2, xn, 0.0, yn);
      kernels::gemm(true, false, 1.0, w2, dyn, 0.0, dxn);
      kernels::gemm(false, true, 1.0, dyn, xn, 1.0, dw);
      WB_CHECK_CLOSE(y.select(0, n).reshape({3, 9 * 128}), yn, atol, rtol);
      WB_CHECK_CLOSE(g.dx.select(0, n).reshape({256, 9 * 128}), dxn, atol, rtol);
    }
    WB_CHECK_CLOSE(g.dw.view({3, 256}), dw, atol, rtol);
  }
}

TEST_CASE("PyTorch parity: conv2d, conv_transpose2d, linear") {
  SafetensorsFile f;
  if (!test::load_reference("conv", f)) return;
  int cases = 0;
  for (const auto& [key, tensor] : f.tensors) {
    // One case per "<op>.<case>.<dtype>.y"; conv cases also carry "<op>.<case>.params".
    const size_t dot = key.rfind('.');
    if (key.substr(dot) != ".y") continue;
    const std::string prefix = key.substr(0, dot);  // <op>.<case>.<dtype>
    const std::string op = prefix.substr(0, prefix.find('.'));
    const std::string case_name = prefix.substr(0, prefix.rfind('.'));
    const bool f64 = prefix.ends_with(".f64");
    CAPTURE(prefix);
    auto get = [&](const char* name) { return test::ref(f, prefix + "." + name); };
    const bool has_bias = f.tensors.count(prefix + ".b") > 0;
    Tensor x = get("x").clone().set_requires_grad(true), w = get("w").clone().set_requires_grad(true);
    Tensor b = has_bias ? get("b").clone().set_requires_grad(true) : Tensor();
    Tensor y;
    if (op == "linear") {
      y = ops::linear(x, w, b);
    } else {
      const std::vector<double> v = test::ref(f, case_name + ".params").to_double_vector();
      REQUIRE(v.size() == 9);
      Conv2dParams p;
      auto i64 = [&](size_t i) { return static_cast<int64_t>(v[i]); };
      p.stride = {i64(0), i64(1)};
      p.padding = {i64(2), i64(3)};
      p.dilation = {i64(4), i64(5)};
      p.output_padding = {i64(6), i64(7)};
      p.groups = i64(8);
      REQUIRE((op == "conv2d" || op == "conv_transpose2d"));
      y = op == "conv2d" ? ops::conv2d(x, w, b, p) : ops::conv_transpose2d(x, w, b, p);
    }
    autograd::backward(y, get("dy"));
    // Tolerances relative to each tensor's largest entry, so that entries summing to near zero
    // are judged on the scale of the sum's terms.
    auto close = [&](const Tensor& actual, const char* name) {
      const Tensor& expected = get(name);
      CAPTURE(std::string(name));
      double scale = 0;
      for (double e : expected.to_double_vector()) scale = std::max(scale, std::fabs(e));
      const double rtol = f64 ? 1e-10 : 1e-4;
      WB_CHECK_CLOSE(actual, expected, rtol * 0.1 * scale, rtol);
    };
    close(y, "y");
    close(x.grad(), "dx");
    close(w.grad(), "dw");
    if (has_bias) close(b.grad(), "db");
    ++cases;
  }
  CHECK(cases == 2 * (8 + 5 + 2));
}

TEST_CASE("bad input names the op and the shapes") {
  const Tensor x = Tensor::zeros({1, 6, 5, 5});
  CHECK_THROWS_WITH_AS(kernels::conv2d_forward(x, Tensor::zeros({4, 4, 3, 3}), Tensor(), params(1, 1, 1, 1)),
                       doctest::Contains("conv2d: weight [4, 4, 3, 3] f32 cpu does not fit input [1, 6, 5, 5]"),
                       Error);
  CHECK_THROWS_WITH_AS(kernels::conv2d_forward(x, Tensor::zeros({4, 2, 3, 3}), Tensor(), params(1, 1, 1, 4)),
                       doctest::Contains("conv2d: input [1, 6, 5, 5] f32 cpu and weight [4, 2, 3, 3] f32 cpu: "
                                         "channels are not divisible by groups 4"),
                       Error);
  CHECK_THROWS_WITH_AS(
      kernels::conv2d_forward(x, Tensor::zeros({4, 6, 3, 3}, DType::F64), Tensor(), params(1, 1, 1, 1)),
      doctest::Contains("conv2d: mixed dtypes [1, 6, 5, 5] f32 cpu and [4, 6, 3, 3] f64 cpu"), Error);
  CHECK_THROWS_WITH_AS(kernels::conv2d_forward(x, Tensor::zeros({4, 6, 3, 3}), Tensor::zeros({3}), params(1, 1, 1, 1)),
                       doctest::Contains("conv2d: bias [3] f32 cpu for weight [4, 6, 3, 3]"), Error);
  CHECK_THROWS_WITH_AS(kernels::conv2d_forward(x, Tensor::zeros({4, 6, 7, 7}), Tensor(), params(1, 0, 1, 1)),
                       doctest::Contains("empty output"), Error);
  CHECK_THROWS_WITH_AS(kernels::conv2d_forward(Tensor::zeros({6, 5, 5}), Tensor::zeros({4, 6, 3, 3}), Tensor(),
                                               params(1, 1, 1, 1)),
                       doctest::Contains("conv2d: input must be 4-d, got [6, 5, 5]"), Error);
  CHECK_THROWS_WITH_AS(kernels::conv2d_forward(x, Tensor::zeros({4, 6, 3, 3}), Tensor(), params(0, 1, 1, 1)),
                       doctest::Contains("conv2d: invalid parameters (stride [0, 0]"), Error);

  CHECK_THROWS_WITH_AS(
      kernels::conv_transpose2d_forward(x, Tensor::zeros({4, 2, 3, 3}), Tensor(), params(1, 1, 1, 2)),
      doctest::Contains("conv_transpose2d: weight [4, 2, 3, 3] f32 cpu does not fit input [1, 6, 5, 5]"), Error);
  CHECK_THROWS_WITH_AS(
      kernels::conv_transpose2d_forward(x, Tensor::zeros({6, 2, 3, 3}), Tensor(), params(1, 1, 1, 4)),
      doctest::Contains("conv_transpose2d: input [1, 6, 5, 5] f32 cpu and weight [6, 2, 3, 3] f32 cpu: channels "
                        "are not divisible by groups 4"),
      Error);
  CHECK_THROWS_WITH_AS(
      kernels::conv_transpose2d_forward(x, Tensor::zeros({6, 2, 3, 3}, DType::F64), Tensor(), params(1, 1, 1, 1)),
      doctest::Contains("conv_transpose2d: mixed dtypes"), Error);
  CHECK_THROWS_WITH_AS(
      kernels::conv_transpose2d_forward(x, Tensor::zeros({6, 2, 3, 3}), Tensor(), params(2, 1, 1, 1, 2)),
      doctest::Contains("conv_transpose2d: output_padding [2, 2] must be smaller than stride or dilation"), Error);

  CHECK_THROWS_WITH_AS(
      kernels::conv2d_backward(Tensor::zeros({1, 4, 4, 5}), x, Tensor::zeros({4, 6, 3, 3}), params(1, 1, 1, 1), true,
                               true, true),
      doctest::Contains("conv2d_backward: gradient [1, 4, 4, 5] f32 cpu does not match the output shape [1, 4, 5, 5]"),
      Error);

  CHECK_THROWS_WITH_AS(kernels::linear_forward(Tensor::zeros({2, 5}), Tensor::zeros({3, 4}), Tensor()),
                       doctest::Contains("linear: input [2, 5] f32 cpu does not fit weight [3, 4] f32 cpu"), Error);
  CHECK_THROWS_WITH_AS(
      kernels::linear_forward(Tensor::zeros({2, 4}), Tensor::zeros({3, 4}, DType::F64), Tensor()),
      doctest::Contains("linear: mixed dtypes [2, 4] f32 cpu and [3, 4] f64 cpu"), Error);
  CHECK_THROWS_WITH_AS(
      kernels::linear_forward(Tensor::zeros({2, 4}), Tensor::zeros({3, 4}), Tensor::zeros({4})),
      doctest::Contains("linear: bias [4] f32 cpu for weight [3, 4] f32 cpu"), Error);
  Tensor c = Tensor::zeros({2, 2});
  CHECK_THROWS_WITH_AS(kernels::gemm(false, false, 1.0, Tensor::zeros({2, 3}), Tensor::zeros({2, 2}), 0.0, c),
                       doctest::Contains("gemm: a [2, 3] f32 cpu times b [2, 2] f32 cpu into c [2, 2] f32 cpu"), Error);
}

TEST_CASE("gemm: transposes, alpha and beta") {
  // Small integers: every product and sum is exact in f32.
  const Tensor a = Tensor::from_vector(std::vector<double>{1, 2, 3, 4, 5, 6}, {2, 3}, DType::F32);
  const Tensor b = Tensor::from_vector(std::vector<double>{1, 0, -1, 2, 3, 1}, {3, 2}, DType::F32);
  // a b = [[1*1+2*-1+3*3, 1*0+2*2+3*1], [4*1+5*-1+6*3, 4*0+5*2+6*1]] = [[8, 7], [17, 16]]
  Tensor c = Tensor::full({2, 2}, 1.0);
  kernels::gemm(false, false, 2.0, a, b, 3.0, c);
  WB_CHECK_CLOSE(c, Tensor::from_vector(std::vector<double>{19, 17, 37, 35}, {2, 2}, DType::F32), 0, 0);
  Tensor ct = Tensor::empty({2, 2});
  kernels::gemm(true, true, 1.0, b, a, 0.0, ct);  // b^T a^T = (a b)^T
  WB_CHECK_CLOSE(ct, Tensor::from_vector(std::vector<double>{8, 17, 7, 16}, {2, 2}, DType::F32), 0, 0);
  Tensor cn = Tensor::empty({2, 2});
  kernels::gemm(false, true, 1.0, a, b.transpose(0, 1), 0.0, cn);  // a non-contiguous operand is copied
  WB_CHECK_CLOSE(cn, Tensor::from_vector(std::vector<double>{8, 7, 17, 16}, {2, 2}, DType::F32), 0, 0);
}

TEST_CASE("conv_algo: Default resets to the native kernels") {
  kernels::set_conv_algo(kernels::ConvAlgo::Cudnn);
  CHECK(kernels::conv_algo() == kernels::ConvAlgo::Cudnn);
  kernels::set_conv_algo(kernels::ConvAlgo::Default);
  CHECK(kernels::conv_algo() == kernels::ConvAlgo::Native);
}
