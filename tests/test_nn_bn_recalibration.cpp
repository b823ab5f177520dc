// nn::recalibrate_batchnorm: the running statistics become the plain average of the batch
// statistics of each BN's input (computed here directly, by hand, from the layers' weights), the
// mode of every module is restored, the weights are untouched; failures leave the model as it was.
#include <cmath>
#include <stdexcept>
#include <vector>

#include "autograd/node.h"
#include "nn/bn_recalibration.h"
#include "nn/init.h"
#include "nn/layers.h"
#include "tests/util.h"

using namespace wb;

namespace {

// conv -> BN -> ReLU -> conv -> BN, in f64.
struct Net {
  std::shared_ptr<nn::Sequential> seq = std::make_shared<nn::Sequential>();
  std::shared_ptr<nn::Conv2d> conv1, conv2;
  std::shared_ptr<nn::BatchNorm2d> bn1, bn2;

  Net() {
    nn::Conv2dOptions o;
    o.in_channels = 3, o.out_channels = 4, o.kernel = 3, o.padding = 1;
    conv1 = seq->push_back(std::make_shared<nn::Conv2d>(o));
    bn1 = seq->push_back(std::make_shared<nn::BatchNorm2d>(4));
    seq->push_back(std::make_shared<nn::ReLU>());
    o.in_channels = 4, o.out_channels = 5, o.stride = 2;
    conv2 = seq->push_back(std::make_shared<nn::Conv2d>(o));
    bn2 = seq->push_back(std::make_shared<nn::BatchNorm2d>(5));
    Generator gen(7);
    seq->reset_parameters(gen);
    // Non-trivial affine parameters and stale running statistics, as a supernet export leaves them.
    for (auto* bn : {bn1.get(), bn2.get()}) {
      nn::init::uniform_(bn->weight, gen, 0.5, 1.5);
      nn::init::uniform_(bn->bias, gen, -0.5, 0.5);
      nn::init::uniform_(bn->running_mean, gen, 3, 4);
      nn::init::uniform_(bn->running_var, gen, 5, 6);
    }
    seq->to(DType::F64);
  }
};

// Batch i: 2 + i images (the batch sizes differ: the average is per pass, not per image).
Tensor images(int64_t i) { return test::randn64({2 + i, 3, 6, 6}, 100 + static_cast<uint64_t>(i), false, 2.0); }

struct Stats {
  std::vector<double> mean, biased, unbiased;
};

Stats channel_stats(const Tensor& h) {
  const int64_t n = h.size(0), c = h.size(1), hw = h.size(2) * h.size(3);
  const Tensor v = h.contiguous();
  const double* p = v.data<double>();
  Stats s;
  for (int64_t k = 0; k < c; ++k) {
    double sum = 0, sq = 0;
    for (int64_t b = 0; b < n; ++b)
      for (int64_t j = 0; j < hw; ++j) sum += p[(b * c + k) * hw + j];
    const double m = sum / static_cast<double>(n * hw);
    for (int64_t b = 0; b < n; ++b)
      for (int64_t j = 0; j < hw; ++j) sq += (p[(b * c + k) * hw + j] - m) * (p[(b * c + k) * hw + j] - m);
    s.mean.push_back(m);
    s.biased.push_back(sq / static_cast<double>(n * hw));
    s.unbiased.push_back(sq / static_cast<double>(n * hw - 1));
  }
  return s;
}

// Training-mode BN by hand (batch statistics), then ReLU.
Tensor bn_relu_by_hand(const Tensor& h, const Stats& s, const nn::BatchNorm2d& bn) {
  Tensor y = h.clone();
  const int64_t n = h.size(0), c = h.size(1), hw = h.size(2) * h.size(3);
  double* p = y.data<double>();
  const double* g = bn.weight.data<double>();
  const double* b = bn.bias.data<double>();
  for (int64_t i = 0; i < n; ++i)
    for (int64_t k = 0; k < c; ++k)
      for (int64_t j = 0; j < hw; ++j) {
        double& v = p[(i * c + k) * hw + j];
        v = std::max(0.0, (v - s.mean[k]) / std::sqrt(s.biased[k] + 1e-5) * g[k] + b[k]);
      }
  return y;
}

Tensor vec(const std::vector<double>& v) { return Tensor::from_vector(v, {static_cast<int64_t>(v.size())}, DType::F64); }

}  // namespace

TEST_CASE("recalibrate_batchnorm: running statistics = plain mean over the passes of each BN input's batch statistics") {
  Net net;
  const nn::NamedTensors params_before = [&] {
    nn::NamedTensors c;
    for (const auto& [name, t] : net.seq->named_parameters()) c.emplace_back(name, t.clone());
    return c;
  }();
  net.seq->eval();
  net.bn2->train();  // a mixed mode, to be restored as it was
  const int64_t batches = 3;

  // The expected values, by hand.
  std::vector<double> m1(4, 0), v1(4, 0), m2(5, 0), v2(5, 0);
  {
    autograd::NoGradGuard no_grad;
    for (int64_t i = 0; i < batches; ++i) {
      const Tensor h1 = (*net.conv1)(images(i));
      const Stats s1 = channel_stats(h1);
      const Stats s2 = channel_stats((*net.conv2)(bn_relu_by_hand(h1, s1, *net.bn1)));
      for (size_t k = 0; k < 4; ++k) m1[k] += s1.mean[k] / batches, v1[k] += s1.unbiased[k] / batches;
      for (size_t k = 0; k < 5; ++k) m2[k] += s2.mean[k] / batches, v2[k] += s2.unbiased[k] / batches;
    }
  }

  int calls = 0;
  nn::recalibrate_batchnorm(*net.seq, batches, [&](int64_t i) {
    CHECK(i == calls++);
    CHECK(net.seq->is_training());
    CHECK(!autograd::grad_mode_enabled());
    return images(i);
  });
  CHECK(calls == batches);
  WB_CHECK_CLOSE(net.bn1->running_mean, vec(m1), 1e-12, 1e-12);
  WB_CHECK_CLOSE(net.bn1->running_var, vec(v1), 1e-12, 1e-12);
  WB_CHECK_CLOSE(net.bn2->running_mean, vec(m2), 1e-12, 1e-12);
  WB_CHECK_CLOSE(net.bn2->running_var, vec(v2), 1e-12, 1e-12);
  // The stale values are gone (they were far from these).
  CHECK(net.bn1->running_mean.data<double>()[0] < 2.5);

  CHECK(!net.seq->is_training());
  CHECK(!net.bn1->is_training());
  CHECK(net.bn2->is_training());
  CHECK(net.bn1->params().momentum == 0.1);
  CHECK(*net.bn1->num_batches_tracked.data<int64_t>() == 0);
  const nn::NamedTensors after = net.seq->named_parameters();
  REQUIRE(after.size() == params_before.size());
  for (size_t i = 0; i < after.size(); ++i) {
    INFO(after[i].first);
    WB_CHECK_CLOSE(after[i].second, params_before[i].second, 0, 0);
  }
}

TEST_CASE("recalibrate_batchnorm: a failure leaves the model as it was; bad counts and a layer run twice are errors") {
  Net net;
  const Tensor mean_before = net.bn2->running_mean.clone();
  const Tensor var_before = net.bn2->running_var.clone();
  net.seq->eval();
  CHECK_THROWS_AS(nn::recalibrate_batchnorm(*net.seq, 3,
                                            [&](int64_t i) -> Tensor {
                                              if (i == 2) throw std::runtime_error("no more images");
                                              return images(i);
                                            }),
                  std::runtime_error);
  WB_CHECK_CLOSE(net.bn2->running_mean, mean_before, 0, 0);
  WB_CHECK_CLOSE(net.bn2->running_var, var_before, 0, 0);
  CHECK(!net.seq->is_training());
  CHECK(net.bn2->params().momentum == 0.1);

  CHECK(test::error_of([&] { nn::recalibrate_batchnorm(*net.seq, 0, images); }).find("at least one batch") !=
        std::string::npos);

  // The same BN twice in one pass.
  auto twice = std::make_shared<nn::Sequential>();
  auto bn = std::make_shared<nn::BatchNorm2d>(3);
  twice->push_back(bn);
  struct Again : nn::Module {
    std::shared_ptr<nn::BatchNorm2d> bn;
    Tensor forward(const Tensor& x) override { return (*bn)(x); }
  };
  auto again = std::make_shared<Again>();
  again->bn = bn;  // not registered: reached through the first child only
  twice->push_back(again);
  twice->to(DType::F64);
  const std::string err = test::error_of([&] { nn::recalibrate_batchnorm(*twice, 1, images); });
  CHECK(err.find("layer \"0\" runs 2 times") != std::string::npos);
  CHECK(bn->running_mean.data<double>()[0] == 0.0);
}
