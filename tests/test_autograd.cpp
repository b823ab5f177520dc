#include "autograd/engine.h"
#include "autograd/node.h"
#include "autograd/ops_basic.h"
#include "tests/util.h"

using namespace wb;

TEST_CASE("backward accumulates through shared subexpressions") {
  Tensor x = Tensor::from_vector(std::vector<double>{1, 2, 3}, {3}, DType::F64);
  x.set_requires_grad(true);
  Tensor y = ops::mul(x, x);                 // x^2
  Tensor z = ops::sum(ops::add(y, x));       // sum(x^2 + x)
  autograd::backward(z);
  CHECK(x.grad().to_double_vector() == std::vector<double>{3, 5, 7});  // 2x + 1
  // a second backward accumulates into .grad (after a fresh forward)
  Tensor z2 = ops::sum(x);
  autograd::backward(z2);
  CHECK(x.grad().to_double_vector() == std::vector<double>{4, 6, 8});
}

TEST_CASE("backward through a freed graph is an error; retain_graph keeps it") {
  Tensor x = test::randn64({3}, 1);
  Tensor z = ops::sum(ops::relu(x));
  autograd::backward(z, Tensor(), /*retain_graph=*/true);
  autograd::backward(z);
  CHECK_THROWS_WITH_AS(autograd::backward(z), doctest::Contains("second time"), Error);
}

TEST_CASE("non-scalar backward needs a seed; no-grad records nothing") {
  Tensor x = test::randn64({3}, 2);
  Tensor y = ops::relu(x);
  CHECK_THROWS_WITH_AS(autograd::backward(y), doctest::Contains("not a scalar"), Error);
  {
    autograd::NoGradGuard guard;
    Tensor y2 = ops::relu(x);
    CHECK_FALSE(y2.requires_grad());
  }
  Tensor c = Tensor::ones({3}, DType::F64);
  CHECK_THROWS_WITH_AS(autograd::backward(c), doctest::Contains("does not require grad"), Error);
}

TEST_CASE("gradcheck catches a wrong gradient") {
  // An op whose recorded backward is off by a factor of 2: the checker must say so.
  auto wrong = [](const std::vector<Tensor>& in) {
    Tensor y = in[0].clone();
    if (autograd::needs_grad({&in[0]})) {
      autograd::record("wrong", {in[0]}, {&y}, [](const std::vector<Tensor>& g) -> std::vector<Tensor> {
        return {ops::scale(g[0], 2.0)};
      });
    }
    return y;
  };
  const auto r = autograd::gradcheck(wrong, {test::randn64({4}, 3)});
  CHECK_FALSE(r.ok);
  CHECK(r.message.find("analytic") != std::string::npos);
}
