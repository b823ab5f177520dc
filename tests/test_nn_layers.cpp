// Layers and initialisers: gradient checks in f64 of the composite blocks (SE, global context,
// LayerNorm) and of the exp/log ops they rest on, mmcv naming and semantics, init statistics.
#include <algorithm>
#include <array>
#include <cmath>

#include "autograd/node.h"
#include "autograd/ops_basic.h"
#include "autograd/ops_norm.h"
#include "nn/init.h"
#include "nn/layers.h"
#include "tests/util.h"

using namespace wb;

namespace {

// Every parameter of `m` random (f64), the module's input first: gradcheck perturbs the tensors
// in place, so passing the module's own parameters checks their gradients too.
std::vector<Tensor> inputs_for(nn::Module& m, const Shape& x_shape, uint64_t seed) {
  m.to(DType::F64);
  Generator gen(seed);
  std::vector<Tensor> in{test::randn64(x_shape, seed)};
  for (auto& [_, p] : m.named_parameters()) {
    nn::init::normal_(p, gen, 0.0, 0.5);
    in.push_back(p);
  }
  return in;
}

std::vector<std::string> names_of(const nn::NamedTensors& named) {
  std::vector<std::string> out;
  for (const auto& [name, _] : named) out.push_back(name);
  return out;
}

}  // namespace

TEST_CASE("gradcheck: exp and log") {
  WB_GRADCHECK([](const std::vector<Tensor>& v) { return ops::exp(v[0]); }, {test::randn64({3, 4, 5}, 1)});
  Tensor pos = test::randn64({2, 7}, 2, false);
  double* p = pos.data<double>();
  for (int64_t i = 0; i < pos.numel(); ++i) p[i] = 0.2 + std::fabs(p[i]);
  pos.set_requires_grad(true);
  WB_GRADCHECK([](const std::vector<Tensor>& v) { return ops::log(v[0]); }, {pos});
  const Tensor x = Tensor::from_vector(std::vector<double>{-1.0, 0.0, 2.5}, {3}, DType::F64);
  WB_CHECK_CLOSE(ops::exp(x),
                 Tensor::from_vector(std::vector<double>{std::exp(-1.0), 1.0, std::exp(2.5)}, {3}, DType::F64), 1e-15,
                 1e-15);
  WB_CHECK_CLOSE(ops::log(ops::exp(x)), x, 1e-15, 1e-15);
}

TEST_CASE("gradcheck: SE block, input and parameters") {
  for (nn::Activation gate : {nn::Activation::Sigmoid, nn::Activation::HSigmoid}) {
    nn::SELayer se({.channels = 6, .ratio = 3, .gate = gate});
    WB_GRADCHECK([&](const std::vector<Tensor>& v) { return se(v[0]); }, inputs_for(se, {2, 6, 3, 4}, 3));
  }
}

TEST_CASE("gradcheck: global-context block (attention pooling; add and mul fusion)") {
  nn::ContextBlock gc({.in_channels = 6, .ratio = 0.5, .channel_add = true, .channel_mul = true});
  WB_GRADCHECK([&](const std::vector<Tensor>& v) { return gc(v[0]); }, inputs_for(gc, {2, 6, 3, 5}, 4));
  nn::ContextBlock avg({.in_channels = 4, .ratio = 0.5, .attention_pooling = false});
  WB_GRADCHECK([&](const std::vector<Tensor>& v) { return avg(v[0]); }, inputs_for(avg, {1, 4, 2, 3}, 5));
}

TEST_CASE("gradcheck: LayerNorm over trailing dims") {
  nn::LayerNorm ln(Shape{3, 4});
  WB_GRADCHECK([&](const std::vector<Tensor>& v) { return ln(v[0]); }, inputs_for(ln, {2, 5, 3, 4}, 6));
  // The statistics are per row: a row's output does not depend on the others.
  nn::LayerNorm ln2(Shape{4});
  ln2.to(DType::F64);
  const Tensor x = test::randn64({2, 4}, 7, false);
  const Tensor y = ln2(x);
  const std::vector<double> xv = x.to_double_vector(), yv = y.to_double_vector();
  for (int r = 0; r < 2; ++r) {
    double mean = 0, var = 0;
    for (int i = 0; i < 4; ++i) mean += xv[static_cast<size_t>(r * 4 + i)] / 4;
    for (int i = 0; i < 4; ++i) var += std::pow(xv[static_cast<size_t>(r * 4 + i)] - mean, 2) / 4;
    for (int i = 0; i < 4; ++i) {
      const size_t k = static_cast<size_t>(r * 4 + i);
      CHECK(yv[k] == doctest::Approx((xv[k] - mean) / std::sqrt(var + 1e-5)).epsilon(1e-12));
    }
  }
  CHECK_THROWS_WITH_AS(ln2(test::randn64({2, 5}, 8, false)), doctest::Contains("normalized_shape"), Error);
}

TEST_CASE("HSigmoid follows mmcv: clamp((x + bias) / divisor, 0, 1)") {
  const Tensor x = Tensor::from_vector(std::vector<double>{-4, -1.5, -0.2, 0.0, 0.7, 2.9, 5}, {7}, DType::F64);
  for (auto [b, d] : {std::pair{3.0, 6.0}, std::pair{1.0, 2.0}}) {
    CAPTURE(b);
    nn::HSigmoid h(b, d);
    std::vector<double> expected;
    for (double v : x.to_double_vector()) expected.push_back(std::clamp((v + b) / d, 0.0, 1.0));
    WB_CHECK_CLOSE(h(x), Tensor::from_vector(expected, {7}, DType::F64), 1e-15, 1e-15);
  }
}

TEST_CASE("ConvModule: mmcv's names, bias only without BN, fused BN-ReLU equals the unfused chain") {
  nn::ConvModule with_bn({.conv = {.in_channels = 3, .out_channels = 4, .kernel = 3, .padding = 1}});
  CHECK(names_of(with_bn.state_dict()) == std::vector<std::string>{"conv.weight", "bn.weight", "bn.bias",
                                                                   "bn.running_mean", "bn.running_var",
                                                                   "bn.num_batches_tracked"});
  nn::ConvModule no_bn({.conv = {.in_channels = 3, .out_channels = 4}, .with_bn = false, .act = nn::Activation::PReLU});
  CHECK(names_of(no_bn.state_dict()) == std::vector<std::string>{"conv.weight", "conv.bias", "activate.weight"});

  Generator gen(9);
  with_bn.reset_parameters(gen);
  nn::init::normal_(with_bn.bn->bias, gen, 0.0, 1.0);
  const Tensor x = Tensor::randn({2, 3, 5, 5}, gen);
  for (bool training : {true, false}) {
    with_bn.train(training);
    Tensor rm = with_bn.bn->running_mean.clone(), rv = with_bn.bn->running_var.clone();
    const Tensor expected = ops::relu(ops::batch_norm(with_bn.conv->forward(x), with_bn.bn->weight, with_bn.bn->bias,
                                                      rm, rv, training, with_bn.bn->params()));
    WB_CHECK_CLOSE(with_bn(x), expected, 1e-6, 1e-5);
  }
}

TEST_CASE("Conv2d::forward_bn and Sequential fold an eval-mode BN and ReLU into the conv, same result") {
  Generator gen(11);
  // A 3x3 stride-1 conv (the direct kernel in f32) and a strided 1x1 one with a bias (im2col).
  const nn::Conv2dOptions opts[] = {{.in_channels = 5, .out_channels = 7, .kernel = 3, .padding = 1, .bias = false},
                                    {.in_channels = 5, .out_channels = 7, .kernel = 1, .stride = 2}};
  for (const nn::Conv2dOptions& o : opts) {
    auto conv = std::make_shared<nn::Conv2d>(o);
    auto bn = std::make_shared<nn::BatchNorm2d>(7);
    conv->reset_parameters(gen);
    nn::init::normal_(bn->weight, gen, 1.0, 0.5);
    nn::init::normal_(bn->bias, gen, 0.0, 1.0);
    nn::init::normal_(bn->running_mean, gen, 0.0, 1.0);
    nn::init::normal_(bn->running_var, gen, 1.5, 0.2);  // positive
    nn::Sequential seq;
    seq.push_back(conv);
    seq.push_back(bn);
    seq.push_back(std::make_shared<nn::ReLU>());
    seq.eval();
    for (DType dt : {DType::F32, DType::F64}) {
      CAPTURE(dtype_name(dt));
      seq.to(dt);
      const Tensor x = Tensor::randn({3, 5, 9, 8}, gen, dt);
      const double tol = dt == DType::F32 ? 1e-5 : 1e-12;
      for (bool relu : {false, true}) {
        CAPTURE(relu);
        // With the parameters requiring grad the separate ops run and record a graph.
        const Tensor chain = relu ? bn->forward_relu(conv->forward(x)) : bn->forward(conv->forward(x));
        const Tensor recorded = conv->forward_bn(*bn, x, relu);
        CHECK(recorded.requires_grad());
        WB_CHECK_CLOSE(recorded, chain, 0.0, 0.0);
        const autograd::NoGradGuard no_grad;
        const Tensor folded = conv->forward_bn(*bn, x, relu);
        CHECK(!folded.requires_grad());
        WB_CHECK_CLOSE(folded, chain.detach(), tol, tol);
        if (relu) WB_CHECK_CLOSE(seq(x), chain.detach(), tol, tol);
      }
    }
  }
}

TEST_CASE("ContextBlock: mmcv's initialisation zeroes the last transform conv, so it starts as identity") {
  nn::ContextBlock gc({.in_channels = 8, .ratio = 0.25});
  Generator gen(11);
  gc.reset_parameters(gen);
  const Tensor x = Tensor::randn({2, 8, 4, 3}, gen);
  WB_CHECK_CLOSE(gc(x), x, 0.0, 0.0);
  CHECK(names_of(gc.named_parameters()) ==
        std::vector<std::string>{"conv_mask.weight", "conv_mask.bias", "channel_add_conv.0.weight",
                                 "channel_add_conv.0.bias", "channel_add_conv.1.weight", "channel_add_conv.1.bias",
                                 "channel_add_conv.3.weight", "channel_add_conv.3.bias"});
  CHECK_THROWS_WITH_AS(nn::ContextBlock({.in_channels = 8, .ratio = 0.1}), doctest::Contains("ratio"), Error);
}

TEST_CASE("init: fans, gains and the spread of the drawn weights") {
  const Tensor w = Tensor::zeros({64, 32, 3, 3});
  CHECK(nn::init::fans(w).fan_in == 32 * 9);
  CHECK(nn::init::fans(w).fan_out == 64 * 9);
  CHECK(nn::init::gain(nn::init::Nonlinearity::ReLU) == doctest::Approx(std::sqrt(2.0)));
  CHECK(nn::init::gain(nn::init::Nonlinearity::LeakyReLU, std::sqrt(5.0)) == doctest::Approx(std::sqrt(1.0 / 3.0)));
  CHECK_THROWS_WITH_AS(nn::init::fans(Tensor::zeros({5})), doctest::Contains("[5]"), Error);

  auto moments = [](const Tensor& t) {
    double s = 0, s2 = 0, mx = 0;
    for (double v : t.to_double_vector()) {
      s += v;
      s2 += v * v;
      mx = std::max(mx, std::fabs(v));
    }
    const double n = static_cast<double>(t.numel());
    return std::array<double, 3>{s / n, std::sqrt(s2 / n - (s / n) * (s / n)), mx};
  };
  Generator gen(12);
  Tensor a = Tensor::zeros({64, 32, 3, 3});
  nn::init::kaiming_normal_(a, gen);  // fan_out, relu: std = sqrt(2 / 576)
  auto m = moments(a);
  CHECK(std::fabs(m[0]) < 0.003);
  CHECK(m[1] == doctest::Approx(std::sqrt(2.0 / 576)).epsilon(0.02));

  nn::init::kaiming_uniform_(a, gen, nn::init::FanMode::FanIn, nn::init::Nonlinearity::ReLU);
  const double bound = std::sqrt(2.0) * std::sqrt(3.0 / 288);
  m = moments(a);
  CHECK(m[2] <= bound);
  CHECK(m[2] > 0.99 * bound);
  CHECK(m[1] == doctest::Approx(bound / std::sqrt(3.0)).epsilon(0.02));

  nn::init::normal_(a, gen, 0.0, 0.001);
  CHECK(moments(a)[1] == doctest::Approx(0.001).epsilon(0.02));
  nn::init::constant_(a, 0.25);
  CHECK(moments(a)[0] == 0.25);

  // A seed fixes the weights.
  Tensor b1 = Tensor::zeros({3, 4}), b2 = Tensor::zeros({3, 4});
  Generator g1(5), g2(5);
  nn::init::kaiming_normal_(b1, g1);
  nn::init::kaiming_normal_(b2, g2);
  CHECK(b1.to_double_vector() == b2.to_double_vector());
}

TEST_CASE("Conv2d, ConvTranspose2d and Linear: shapes and PyTorch's default initialisation range") {
  nn::Conv2d conv({.in_channels = 4, .out_channels = 6, .kernel = {3, 1}, .groups = 2});
  CHECK(conv.weight.shape() == Shape{6, 2, 3, 1});
  nn::ConvTranspose2d deconv({.in_channels = 4, .out_channels = 6, .kernel = 4, .stride = 2, .groups = 2});
  CHECK(deconv.weight.shape() == Shape{4, 3, 4, 4});
  nn::Linear fc(5, 2);
  Generator gen(13);
  for (nn::Module* m : std::vector<nn::Module*>{&conv, &deconv, &fc}) m->reset_parameters(gen);
  for (auto [t, fan_in] : {std::pair{conv.weight, 6.0}, std::pair{conv.bias, 6.0}, std::pair{deconv.weight, 48.0},
                           std::pair{fc.weight, 5.0}, std::pair{fc.bias, 5.0}}) {
    for (double v : t.to_double_vector()) CHECK(std::fabs(v) <= 1.0 / std::sqrt(fan_in));
  }
  CHECK_THROWS_WITH_AS(nn::Conv2d({.in_channels = 3, .out_channels = 4, .groups = 2}), doctest::Contains("groups"),
                       Error);
}
