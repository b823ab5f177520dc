// The FLOPs/params counter against counts worked out by hand (DESIGN.md's convention: conv and
// linear multiply-adds as weight numel x output pixels, transposed conv on output pixels).
#include "autograd/ops_basic.h"
#include "autograd/ops_pool.h"
#include "nn/flops.h"
#include "nn/layers.h"
#include "tests/util.h"

using namespace wb;

namespace {

class Tiny : public nn::Module {
 public:
  Tiny() {
    features = register_module("features", std::make_shared<nn::Sequential>());
    // [N,3,16,12] -> conv 3x3 s2 -> [N,8,8,6] -> deconv 4x4 s2 -> [N,4,16,12] -> grouped 1x1 -> [N,2,16,12]
    features->push_back(std::make_shared<nn::Conv2d>(
        nn::Conv2dOptions{.in_channels = 3, .out_channels = 8, .kernel = 3, .stride = 2, .padding = 1}));
    features->push_back(std::make_shared<nn::BatchNorm2d>(8));
    features->push_back(std::make_shared<nn::ReLU>());
    features->push_back(std::make_shared<nn::ConvTranspose2d>(nn::ConvTranspose2dOptions{
        .in_channels = 8, .out_channels = 4, .kernel = 4, .stride = 2, .padding = 1, .bias = false}));
    features->push_back(
        std::make_shared<nn::Conv2d>(nn::Conv2dOptions{.in_channels = 4, .out_channels = 2, .groups = 2}));
    fc = register_module("fc", std::make_shared<nn::Linear>(2, 3));
  }
  std::string type_name() const override { return "Tiny"; }
  Tensor forward(const Tensor& x) override {
    const Tensor f = (*features)(x);
    // A cost no counted layer sees, reported by the module itself.
    nn::report_macs(*this, 1000);
    return (*fc)(ops::reshape(ops::global_avg_pool(f), {x.size(0), 2}));
  }
  std::shared_ptr<nn::Sequential> features;
  std::shared_ptr<nn::Linear> fc;
};

}  // namespace

TEST_CASE("flops: per-module params and multiply-adds equal the hand count") {
  Tiny m;
  const int64_t conv = 8 * 3 * 3 * 3 * (8 * 6);       // 10368
  const int64_t deconv = 8 * 4 * 4 * 4 * (16 * 12);   // 98304, on output pixels
  const int64_t grouped = 2 * 2 * 1 * 1 * (16 * 12);  // 768
  const int64_t fc = 2 * 3;
  for (int64_t n : {1, 2}) {
    CAPTURE(n);
    const nn::FlopsReport r = nn::count_flops(m, {n, 3, 16, 12});
    CHECK(r.at("features.0").macs == n * conv);
    CHECK(r.at("features.1").macs == 0);
    CHECK(r.at("features.3").macs == n * deconv);
    CHECK(r.at("features.4").macs == n * grouped);
    CHECK(r.at("features").macs == n * (conv + deconv + grouped));
    CHECK(r.at("fc").macs == n * fc);
    CHECK(r.macs() == n * (conv + deconv + grouped + fc) + 1000);
    CHECK(r.gflops() == doctest::Approx(static_cast<double>(r.macs()) / (1024.0 * 1024.0 * 1024.0)));
  }
  const nn::FlopsReport r = nn::count_flops(m, {1, 3, 16, 12});
  CHECK(r.at("features.0").params == 8 * 27 + 8);
  CHECK(r.at("features.1").params == 16);
  CHECK(r.at("features.3").params == 512);
  CHECK(r.at("features.4").params == 4 + 2);
  CHECK(r.at("fc").params == 6 + 3);
  CHECK(r.params() == 224 + 16 + 512 + 6 + 9);
  CHECK(r.params() == m.num_parameters());
  CHECK(r.modules.front().type == "Tiny");
  CHECK(r.at("features.3").depth == 2);
  CHECK(r.table(1).find("features") != std::string::npos);
  CHECK(r.table(1).find("features.0") == std::string::npos);
  CHECK_THROWS_WITH_AS(r.at("nope"), doctest::Contains("nope"), Error);
}

TEST_CASE("flops: counting leaves the model's mode and BN statistics alone") {
  Tiny m;
  m.train();
  const std::vector<double> before = m.features->operator[](1)->state_dict()[2].second.to_double_vector();
  nn::count_flops(m, {1, 3, 8, 8});
  CHECK(m.is_training());
  CHECK(m.features->operator[](1)->state_dict()[2].second.to_double_vector() == before);
}
