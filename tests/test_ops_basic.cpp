#include <cmath>

#include "autograd/engine.h"
#include "autograd/ops_basic.h"
#include "kernels/elementwise.h"
#include "kernels/reduce.h"
#include "tests/util.h"

using namespace wb;

TEST_CASE("gradcheck: broadcasting arithmetic") {
  const std::vector<Shape> shapes_b = {{2, 3, 4, 5}, {1, 3, 1, 5}, {5}, {2, 1, 4, 1}};
  for (const Shape& sb : shapes_b) {
    CAPTURE(shape_str(sb));
    std::vector<Tensor> in{test::randn64({2, 3, 4, 5}, 1), test::randn64(sb, 2)};
    WB_GRADCHECK([](const std::vector<Tensor>& v) { return ops::add(v[0], v[1]); }, in);
    WB_GRADCHECK([](const std::vector<Tensor>& v) { return ops::sub(v[0], v[1]); }, in);
    WB_GRADCHECK([](const std::vector<Tensor>& v) { return ops::mul(v[0], v[1]); }, in);
  }
  WB_GRADCHECK([](const std::vector<Tensor>& v) { return ops::scale(v[0], -1.5); }, {test::randn64({3, 3}, 4)});
  WB_GRADCHECK([](const std::vector<Tensor>& v) { return ops::add_scalar(v[0], 2.0); }, {test::randn64({3}, 4)});
  WB_GRADCHECK([](const std::vector<Tensor>& v) { return ops::sum(v[0]); }, {test::randn64({3, 5}, 5)});
  WB_GRADCHECK([](const std::vector<Tensor>& v) { return ops::mean(v[0]); }, {test::randn64({1, 3, 7}, 6)});
}

TEST_CASE("gradcheck: activations (away from the kinks)") {
  // Values kept off the non-differentiable points 0 and +-3 by construction.
  auto off_kinks = [](uint64_t seed) {
    Tensor t = test::randn64({3, 4, 5}, seed, false, 3.0);
    double* p = t.data<double>();
    for (int64_t i = 0; i < t.numel(); ++i) {
      for (double k : {0.0, 3.0, -3.0}) {
        if (std::fabs(p[i] - k) < 1e-3) p[i] = k + 0.01;
      }
    }
    t.set_requires_grad(true);
    return t;
  };
  WB_GRADCHECK([](const std::vector<Tensor>& v) { return ops::relu(v[0]); }, {off_kinks(1)});
  WB_GRADCHECK([](const std::vector<Tensor>& v) { return ops::sigmoid(v[0]); }, {off_kinks(2)});
  WB_GRADCHECK([](const std::vector<Tensor>& v) { return ops::hswish(v[0]); }, {off_kinks(3)});
  WB_GRADCHECK([](const std::vector<Tensor>& v) { return ops::hsigmoid(v[0]); }, {off_kinks(4)});
  WB_GRADCHECK([](const std::vector<Tensor>& v) { return ops::prelu(v[0], v[1]); },
               {off_kinks(5), test::randn64({4}, 6)});
  WB_GRADCHECK([](const std::vector<Tensor>& v) { return ops::prelu(v[0], v[1]); },
               {off_kinks(7), test::randn64({1}, 8)});
}

TEST_CASE("gradcheck: shape ops and concat/split") {
  WB_GRADCHECK([](const std::vector<Tensor>& v) { return ops::reshape(v[0], {6, -1}); }, {test::randn64({2, 3, 4}, 1)});
  WB_GRADCHECK([](const std::vector<Tensor>& v) { return ops::permute(v[0], {2, 0, 1}); }, {test::randn64({2, 3, 4}, 2)});
  WB_GRADCHECK([](const std::vector<Tensor>& v) { return ops::narrow(v[0], 1, 1, 2); }, {test::randn64({2, 4, 3}, 3)});
  WB_GRADCHECK([](const std::vector<Tensor>& v) { return ops::concat({v[0], v[1], v[2]}, 1); },
               {test::randn64({2, 1, 3}, 4), test::randn64({2, 3, 3}, 5), test::randn64({2, 2, 3}, 6)});
  WB_GRADCHECK(
      [](const std::vector<Tensor>& v) {
        auto parts = ops::split(v[0], {1, 3}, 1);
        return ops::add(ops::scale(parts[0], 2.0), ops::narrow(parts[1], 1, 0, 1));
      },
      {test::randn64({2, 4, 3}, 7)});
}

TEST_CASE("PyTorch parity: elementwise, activations, reductions, concat") {
  SafetensorsFile f;
  if (!test::load_reference("basic", f)) return;
  const Tensor a = test::ref(f, "a"), b = test::ref(f, "b"), x = test::ref(f, "x"), w = test::ref(f, "w");
  auto check_binary = [&](const char* name, auto fwd) {
    const std::string op = name;
    CAPTURE(op);
    Tensor ta = a.clone().set_requires_grad(true), tb = b.clone().set_requires_grad(true);
    Tensor y = fwd(ta, tb);
    WB_CHECK_CLOSE(y, test::ref(f, std::string(name) + ".y"), 1e-12, 1e-12);
    autograd::backward(y, test::ref(f, std::string(name) + ".dy"));
    WB_CHECK_CLOSE(ta.grad(), test::ref(f, std::string(name) + ".da"), 1e-12, 1e-12);
    WB_CHECK_CLOSE(tb.grad(), test::ref(f, std::string(name) + ".db"), 1e-12, 1e-12);
  };
  check_binary("add", [](const Tensor& p, const Tensor& q) { return ops::add(p, q); });
  check_binary("sub", [](const Tensor& p, const Tensor& q) { return ops::sub(p, q); });
  check_binary("mul", [](const Tensor& p, const Tensor& q) { return ops::mul(p, q); });
  auto check_unary = [&](const char* name, auto fwd) {
    const std::string op = name;
    CAPTURE(op);
    Tensor tx = x.clone().set_requires_grad(true);
    Tensor y = fwd(tx);
    // exp() differs in the last bits between libm and PyTorch's vectorised path.
    WB_CHECK_CLOSE(y, test::ref(f, op + ".y"), 1e-14, 1e-12);
    autograd::backward(y, test::ref(f, op + ".dy"));
    // PyTorch's CPU hardsigmoid backward multiplies by the f32 constant 1.0f/6 even in f64, a
    // relative error of 3e-8 that ours (exact 1/6) does not share.
    const double rtol = op == "hsigmoid" ? 1e-7 : 1e-12;
    WB_CHECK_CLOSE(tx.grad(), test::ref(f, op + ".dx"), 1e-14, rtol);
  };
  check_unary("relu", [](const Tensor& t) { return ops::relu(t); });
  check_unary("sigmoid", [](const Tensor& t) { return ops::sigmoid(t); });
  check_unary("hswish", [](const Tensor& t) { return ops::hswish(t); });
  check_unary("hsigmoid", [](const Tensor& t) { return ops::hsigmoid(t); });
  {
    Tensor tx = x.clone().set_requires_grad(true), tw = w.clone().set_requires_grad(true);
    Tensor y = ops::prelu(tx, tw);
    WB_CHECK_CLOSE(y, test::ref(f, "prelu.y"), 1e-12, 1e-12);
    autograd::backward(y, test::ref(f, "prelu.dy"));
    WB_CHECK_CLOSE(tx.grad(), test::ref(f, "prelu.dx"), 1e-12, 1e-12);
    WB_CHECK_CLOSE(tw.grad(), test::ref(f, "prelu.dw"), 1e-10, 1e-10);
  }
  WB_CHECK_CLOSE(kernels::sum_all(a), test::ref(f, "sum.y"), 1e-10, 1e-12);
  WB_CHECK_CLOSE(kernels::mean_all(a), test::ref(f, "mean.y"), 1e-12, 1e-12);
  WB_CHECK_CLOSE(ops::concat({a, x}, 1), test::ref(f, "concat.y"), 0, 0);
}

TEST_CASE("bad input names the op and the shapes") {
  Tensor a = Tensor::zeros({2, 3}), b = Tensor::zeros({4, 3}), d = Tensor::zeros({2, 3}, DType::F64);
  CHECK_THROWS_WITH_AS(kernels::add(a, b), doctest::Contains("add: shapes [2, 3] and [4, 3]"), Error);
  CHECK_THROWS_WITH_AS(kernels::mul(a, d), doctest::Contains("mixed dtypes"), Error);
  CHECK_THROWS_WITH_AS(kernels::add(a, Tensor::zeros({2, 3}, DType::I64)), doctest::Contains("i64"), Error);
  CHECK_THROWS_WITH_AS(ops::concat({a, Tensor::zeros({3, 3})}, 1), doctest::Contains("concat"), Error);
}
