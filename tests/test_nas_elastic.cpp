// The elastic supernet (nas/elastic.h): the largest sub-network is the plain model, an exported
// sub-network equals the supernet at that config (f64, 1e-6), and a sub-network's gradient
// reaches only its active slices (leading channels, diagonal group blocks, leading blocks).
#include <algorithm>
#include <cmath>
#include <string>

#include "autograd/engine.h"
#include "autograd/node.h"
#include "autograd/ops_basic.h"
#include "nas/elastic.h"
#include "nas/space.h"
#include "pose/models/factory.h"
#include "tests/util.h"

using namespace wb;

namespace {

// Table 2 with every width divided by 8: the supernet's structure at a test's cost.
nas::HRNetSpace small_body_space() {
  nas::HRNetSpace s = nas::zoomnas_space().body;
  for (auto& w : s.stem_widths) w /= 8;
  for (auto& w : s.stage1_widths) w /= 8;
  for (auto& b : s.branch_widths) {
    for (auto& w : b) w /= 8;
  }
  s.input_heights = {32, 64};
  return s;
}

nas::HRNetSpace small_head_space() {
  nas::HRNetSpace s = small_body_space();
  s.stem_widths.clear();
  s.input_heights = {8, 16};
  s.aspect_w = s.aspect_h = 1;
  return s;
}

// An f64 supernet with every weight and BN statistic random (so slices differ from each other).
nas::ElasticHRNet make_supernet(const nas::HRNetSpace& space, const pose::HRNetConfig& base, uint64_t seed) {
  Generator gen(seed);
  const pose::HRNetConfig largest = nas::sample_hrnet(space, base, nas::Pick::Largest, gen);
  auto model = pose::build_model(pose::to_json(largest), "supernet");
  model->to(DType::F64);
  model->reset_parameters(gen);
  for (auto& [name, t] : model->named_buffers()) {
    if (name.find("running_mean") != std::string::npos) t.copy_(Tensor::rand(t.shape(), gen, DType::F64, Device::cpu(), -0.1, 0.1));
    if (name.find("running_var") != std::string::npos) t.copy_(Tensor::rand(t.shape(), gen, DType::F64, Device::cpu(), 0.5, 1.5));
  }
  for (auto& [name, t] : model->named_parameters()) {
    if (name.find(".bn") != std::string::npos || name.find("weight") == std::string::npos) {
      t.copy_(Tensor::rand(t.shape(), gen, DType::F64, Device::cpu(), 0.5, 1.5));
    }
  }
  return nas::ElasticHRNet(model);
}

Tensor m_running_mean(nas::ElasticHRNet& super) {
  for (auto& [name, t] : super.model().at("backbone.stage2.0.branches.1.0.bn1").named_buffers()) {
    if (name == "running_mean") return t;
  }
  return Tensor();
}

Tensor input_for(const pose::HRNetConfig& c, uint64_t seed) {
  return test::randn64({2, c.stem ? 3 : c.stem_channels, c.input_size[0], c.input_size[1]}, seed, false);
}

}  // namespace

TEST_CASE("nas elastic: the largest sub-network is the plain supernet") {
  const nas::HRNetSpace space = small_body_space();
  nas::ElasticHRNet super = make_supernet(space, pose::HRNetConfig{}, 1);
  super.model().eval();
  const Tensor x = input_for(super.largest(), 2);
  autograd::NoGradGuard no_grad;
  WB_CHECK_CLOSE(super.forward(x, super.largest()), super.model()(x), 1e-12, 1e-9);
}

TEST_CASE("nas elastic: an exported sub-network equals the supernet at its config (f64)") {
  for (int variant = 0; variant < 2; ++variant) {
    pose::HRNetConfig base;
    nas::HRNetSpace space = small_body_space();
    if (variant == 1) {  // a ZoomNet head: stemless HRNetV2
      base.stem = false;
      base.head = "v2";
      base.num_keypoints = 21;
      base.stem_channels = 8;
      space = small_head_space();
    }
    nas::ElasticHRNet super = make_supernet(space, base, 10 + variant);
    super.model().eval();
    Generator gen(20 + variant);
    for (int i = 0; i < 3; ++i) {
      const nas::Pick pick = i == 0 ? nas::Pick::Smallest : nas::Pick::Uniform;
      const pose::HRNetConfig c = nas::sample_hrnet(space, base, pick, gen);
      CAPTURE(pose::to_json(c).dump());
      auto sub = super.export_subnet(c);
      const Tensor x = input_for(c, 30 + i);
      autograd::NoGradGuard no_grad;
      const Tensor expected = super.forward(x, c);
      double scale = 0;  // the comparison means something only on outputs well above the tolerance
      for (double v : expected.to_double_vector()) scale = std::max(scale, std::abs(v));
      CHECK(scale > 1e-2);
      WB_CHECK_CLOSE(sub->forward(x), expected, 1e-6, 1e-6);
    }
  }
}

TEST_CASE("nas elastic: gradients reach only the active slices") {
  const nas::HRNetSpace space = small_body_space();
  nas::ElasticHRNet super = make_supernet(space, pose::HRNetConfig{}, 3);
  super.model().train();
  Generator gen(4);
  pose::HRNetConfig c = nas::sample_hrnet(space, pose::HRNetConfig{}, nas::Pick::Smallest, gen);
  c.branch_groups[1] = 2;  // branch 1: width 2 in 2 groups of 1, a 2x2 block diagonal of the 8-wide kernel
  const Tensor rm = m_running_mean(super);
  const std::vector<double> rm_before = rm.to_double_vector();
  Tensor y = super.forward(input_for(c, 5), c);
  autograd::backward(ops::sum(ops::mul(y, y)));

  auto& m = super.model();
  // Branch 1's first block in stage 2: active 2x2 diagonal of [8, 8, 3, 3].
  const Tensor g = m.at("backbone.stage2.0.branches.1.0.conv1").named_parameters().front().second.grad();
  REQUIRE(g.defined());
  const std::vector<double> v = g.to_double_vector();
  double inside = 0, outside = 0;
  for (int64_t o = 0; o < 8; ++o) {
    for (int64_t i = 0; i < 8; ++i) {
      for (int64_t k = 0; k < 9; ++k) {
        const double a = std::abs(v[static_cast<size_t>((o * 8 + i) * 9 + k)]);
        (o < 2 && i == o ? inside : outside) += a;
      }
    }
  }
  CHECK(inside > 0);
  CHECK(outside == 0);
  // BN: leading 2 of 8 channels.
  const Tensor gb = m.at("backbone.stage2.0.branches.1.0.bn1").named_parameters().front().second.grad();
  const std::vector<double> vb = gb.to_double_vector();
  CHECK(std::abs(vb[0]) + std::abs(vb[1]) > 0);
  for (size_t k = 2; k < vb.size(); ++k) CHECK(vb[k] == 0);
  // Skipped depth: stage 3's third module and stage 1's third Bottleneck get no gradient at all.
  for (const char* skipped : {"backbone.stage3.2.branches.0.0.conv1", "backbone.layer1.2.conv1"}) {
    const Tensor gs = m.at(skipped).named_parameters().front().second.grad();
    bool zero = true;
    if (gs.defined()) {
      for (double d : gs.to_double_vector()) zero = zero && d == 0;
    }
    CHECK_MESSAGE(zero, skipped);
  }
  // Training-mode BN leaves the shared running statistics alone (recalibration sets them).
  CHECK(rm.to_double_vector() == rm_before);
}
