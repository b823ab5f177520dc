#include <algorithm>
#include <cmath>
#include <string>

#include "autograd/engine.h"
#include "autograd/node.h"
#include "autograd/ops_norm.h"
#include "kernels/norm.h"
#include "tests/util.h"

using namespace wb;
using kernels::BatchNormParams;

namespace {

// Positive running variance, as a real one is.
Tensor positive64(const Shape& shape, uint64_t seed) {
  Tensor t = test::randn64(shape, seed, false, 0.3);
  double* p = t.data<double>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = 1.0 + std::fabs(p[i]);
  return t;
}

// Smallest |value| of the pre-ReLU output: the fused-ReLU gradchecks need it well above the
// finite-difference step so that no element crosses the kink.
double min_abs_pre_relu(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& rm, const Tensor& rv,
                        bool training) {
  autograd::NoGradGuard no_grad;
  BatchNormParams p;
  Tensor rm_copy = rm.clone(), rv_copy = rv.clone();
  const Tensor z = ops::batch_norm(x, gamma, beta, rm_copy, rv_copy, training, p);
  double m = INFINITY;
  for (double v : z.to_double_vector()) m = std::min(m, std::fabs(v));
  return m;
}

}  // namespace

TEST_CASE("gradcheck: batch norm, train and eval, with and without ReLU") {
  for (const Shape& shape : {Shape{1, 3, 4, 5}, Shape{3, 2, 3, 3}, Shape{4, 3}}) {
    for (bool relu : {false, true}) {
      for (bool training : {true, false}) {
        CAPTURE(shape_str(shape));
        CAPTURE(relu);
        CAPTURE(training);
        const int64_t c = shape[1];
        std::vector<Tensor> in{test::randn64(shape, 1, true, 2.0), test::randn64({c}, 2), test::randn64({c}, 3)};
        Tensor rm = test::randn64({c}, 4, false), rv = positive64({c}, 5);
        if (relu) REQUIRE(min_abs_pre_relu(in[0], in[1], in[2], rm, rv, training) > 1e-4);
        BatchNormParams p;
        p.relu = relu;
        // In training every evaluation also moves the running statistics; the output does not
        // depend on them, so the repeated updates do not disturb the check.
        WB_GRADCHECK(
            [&](const std::vector<Tensor>& v) { return ops::batch_norm(v[0], v[1], v[2], rm, rv, training, p); }, in);
      }
    }
  }
}

TEST_CASE("gradcheck: batch norm without running statistics") {
  Tensor none_m, none_v;
  WB_GRADCHECK(
      [&](const std::vector<Tensor>& v) { return ops::batch_norm(v[0], v[1], v[2], none_m, none_v, true, {}); },
      {test::randn64({2, 3, 2, 2}, 6), test::randn64({3}, 7), test::randn64({3}, 8)});
}

TEST_CASE("batch norm: running statistics by hand") {
  // One channel holding 1, 2, 3, 4 (over N = 2 and W = 2): mean 2.5, biased variance 1.25 for
  // normalising, unbiased 5/3 for the running estimate.
  const Tensor x = Tensor::from_vector(std::vector<double>{1, 2, 3, 4}, {2, 1, 1, 2}, DType::F64);
  const Tensor gamma = Tensor::ones({1}, DType::F64), beta = Tensor::zeros({1}, DType::F64);
  Tensor rm = Tensor::zeros({1}, DType::F64), rv = Tensor::ones({1}, DType::F64);
  BatchNormParams p;
  p.momentum = 0.25;
  p.eps = 0.0;
  const Tensor y = ops::batch_norm(x, gamma, beta, rm, rv, true, p);
  const double s = 1.0 / std::sqrt(1.25);
  WB_CHECK_CLOSE(
      y, Tensor::from_vector(std::vector<double>{-1.5 * s, -0.5 * s, 0.5 * s, 1.5 * s}, {2, 1, 1, 2}, DType::F64),
      1e-15, 1e-15);
  WB_CHECK_CLOSE(rm, Tensor::full({1}, 0.25 * 2.5, DType::F64), 1e-15, 0);
  WB_CHECK_CLOSE(rv, Tensor::full({1}, 0.75 + 0.25 * 5.0 / 3.0, DType::F64), 1e-15, 0);
}

TEST_CASE("batch norm: the ReLU flag equals a separate ReLU, and eval ignores the batch") {
  const Tensor x = test::randn64({3, 4, 2, 3}, 11, false), gamma = test::randn64({4}, 12, false),
               beta = test::randn64({4}, 13, false);
  Tensor rm = test::randn64({4}, 14, false), rv = positive64({4}, 15);
  BatchNormParams plain, fused;
  fused.relu = true;
  for (bool training : {true, false}) {
    Tensor rm_a = rm.clone(), rv_a = rv.clone(), rm_b = rm.clone(), rv_b = rv.clone();
    const Tensor y_plain = ops::batch_norm(x, gamma, beta, rm_a, rv_a, training, plain);
    const Tensor y_fused = ops::batch_norm(x, gamma, beta, rm_b, rv_b, training, fused);
    std::vector<double> expect = y_plain.to_double_vector();
    for (double& v : expect) v = std::max(v, 0.0);
    WB_CHECK_CLOSE(y_fused, Tensor::from_vector(expect, y_plain.shape(), DType::F64), 0, 0);
  }
  // In eval mode each sample is normalised on its own: the first sample alone gives the same rows.
  const Tensor y_all = ops::batch_norm(x, gamma, beta, rm, rv, false, plain);
  const Tensor y_one = ops::batch_norm(x.narrow(0, 0, 1), gamma, beta, rm, rv, false, plain);
  WB_CHECK_CLOSE(y_one, y_all.narrow(0, 0, 1), 0, 0);
}

TEST_CASE("PyTorch parity: batch norm training steps and evaluation") {
  SafetensorsFile f;
  if (!test::load_reference("norm", f)) return;
  for (const char* name :
       {"train", "train_relu", "train_2d", "train_f32", "train_relu_f32", "eval", "eval_relu", "eval_f32"}) {
    const std::string n = name;
    CAPTURE(n);
    const std::vector<double> params = test::ref(f, n + ".params").to_double_vector();
    BatchNormParams p;
    p.momentum = params[0];
    p.eps = params[1];
    p.relu = params[2] != 0.0;
    const int steps = static_cast<int>(params[3]);
    const bool training = n.rfind("train", 0) == 0;
    const bool f32 = test::ref(f, n + ".gamma").dtype() == DType::F32;
    // f32: PyTorch accumulates the statistics in its own order and precision, we in double.
    const double tol = f32 ? 2e-6 : 1e-12;
    Tensor rm = test::ref(f, n + ".rm0").clone(), rv = test::ref(f, n + ".rv0").clone();
    for (int s = 0; s < steps; ++s) {
      CAPTURE(s);
      const std::string pre = n + "." + std::to_string(s) + ".";
      Tensor x = test::ref(f, pre + "x").clone().set_requires_grad(true);
      Tensor gamma = test::ref(f, n + ".gamma").clone().set_requires_grad(true);
      Tensor beta = test::ref(f, n + ".beta").clone().set_requires_grad(true);
      const Tensor y = ops::batch_norm(x, gamma, beta, rm, rv, training, p);
      WB_CHECK_CLOSE(y, test::ref(f, pre + "y"), tol, tol);
      autograd::backward(y, test::ref(f, pre + "dy"));
      WB_CHECK_CLOSE(x.grad(), test::ref(f, pre + "dx"), tol, tol);
      // Sums over a whole channel: in f32 their rounding grows with the channel's size.
      WB_CHECK_CLOSE(gamma.grad(), test::ref(f, pre + "dgamma"), f32 ? 5e-5 : 1e-10, tol);
      WB_CHECK_CLOSE(beta.grad(), test::ref(f, pre + "dbeta"), f32 ? 5e-5 : 1e-10, tol);
    }
    WB_CHECK_CLOSE(rm, test::ref(f, n + ".rm"), tol, tol);
    WB_CHECK_CLOSE(rv, test::ref(f, n + ".rv"), tol, tol);
  }
}

TEST_CASE("batch norm: bad input names the op and the shapes") {
  const Tensor x = Tensor::zeros({2, 4, 3, 3}), g = Tensor::ones({4}), b = Tensor::zeros({4});
  Tensor rm = Tensor::zeros({4}), rv = Tensor::ones({4}), none;
  CHECK_THROWS_WITH_AS(
      ops::batch_norm(x, Tensor::ones({3}), b, rm, rv, true),
      doctest::Contains("batch_norm: parameter [3] f32 cpu does not match the 4 channels of x [2, 4, 3, 3]"), Error);
  Tensor rm_bad = Tensor::zeros({5});
  CHECK_THROWS_WITH_AS(ops::batch_norm(x, g, b, rm_bad, rv, true),
                       doctest::Contains("statistic [5] f32 cpu does not match the 4 channels"), Error);
  Tensor one = Tensor::zeros({1, 4, 1, 1});
  CHECK_THROWS_WITH_AS(ops::batch_norm(one, g, b, rm, rv, true),
                       doctest::Contains("more than one value per channel, got x [1, 4, 1, 1]"), Error);
  CHECK_THROWS_WITH_AS(ops::batch_norm(x, g, b, none, rv, false),
                       doctest::Contains("batch_norm (eval): evaluation needs running_mean and running_var"), Error);
  Tensor strided = Tensor::zeros({8}).slice(0, 0, 8, 2);
  CHECK_THROWS_WITH_AS(ops::batch_norm(x, g, b, strided, rv, true), doctest::Contains("must be contiguous"), Error);
  Tensor rm64 = Tensor::zeros({4}, DType::F64);
  CHECK_THROWS_WITH_AS(ops::batch_norm(x, g, b, rm64, rv, true), doctest::Contains("mixed dtypes"), Error);
  CHECK_THROWS_WITH_AS(ops::batch_norm(Tensor::zeros({4}), g, b, rm, rv, true),
                       doctest::Contains("batch_norm: x must be [N, C, ...], got [4]"), Error);
  CHECK_THROWS_WITH_AS(
      kernels::batch_norm_train_backward(Tensor::zeros({2, 4, 3, 2}), x, Tensor(), g, rm, rv, {}),
      doctest::Contains("batch_norm_backward: gradient [2, 4, 3, 2] f32 cpu does not match x [2, 4, 3, 3]"), Error);
  BatchNormParams relu;
  relu.relu = true;
  CHECK_THROWS_WITH_AS(kernels::batch_norm_eval_backward(x, x, Tensor(), g, rm, rv, relu),
                       doctest::Contains("fused ReLU needs the forward output"), Error);
}
