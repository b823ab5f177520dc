// Sandwich-rule supernet training (nas/sandwich.h): four sub-networks per step, the teacher's
// heatmaps distilled into the others, all into the shared weights. A tiny supernet on a fixed
// synthetic batch: every sampled sub-network's loss falls, and the run is deterministic by seed.
#include <cmath>
#include <vector>

#include "nas/sandwich.h"
#include "pose/models/factory.h"
#include "tests/util.h"

using namespace wb;

namespace {

// A small space: widths of Table 2 / 8, one input size (the batch's), depths as in Table 2.
nas::HRNetSpace tiny_space() {
  nas::HRNetSpace s = nas::zoomnas_space().body;
  s.stem_widths = {4, 8};
  s.stage1_depths = {1, 2};
  s.stage1_widths = {2, 4};
  s.stage_depths = {std::vector<int64_t>{1}, {1, 2}, {1}};
  s.blocks_per_module = 1;
  s.branch_widths = {std::vector<int64_t>{2, 4}, {4, 8}, {4, 8}, {8, 16}};
  s.input_heights = {32, 64};
  s.aspect_w = s.aspect_h = 1;
  return s;
}

// One Gaussian blob per keypoint at a fixed place: a target any sub-network can learn.
nas::SandwichBatch tiny_batch() {
  nas::SandwichBatch b;
  b.images = test::randn64({2, 3, 64, 64}, 11, false);
  std::vector<double> t(2 * 3 * 16 * 16);
  for (int n = 0; n < 2; ++n) {
    for (int k = 0; k < 3; ++k) {
      for (int y = 0; y < 16; ++y) {
        for (int x = 0; x < 16; ++x) {
          const double dx = x - 4 - 4 * k, dy = y - 8 + 2 * n;
          t[static_cast<size_t>(((n * 3 + k) * 16 + y) * 16 + x)] = std::exp(-(dx * dx + dy * dy) / 8.0);
        }
      }
    }
  }
  b.targets = Tensor::from_vector(t, {2, 3, 16, 16}, DType::F64);
  return b;
}

std::vector<std::vector<double>> train(int steps, uint64_t seed) {
  const nas::HRNetSpace space = tiny_space();
  Generator gen(seed);
  pose::HRNetConfig base;
  base.num_keypoints = 3;
  const pose::HRNetConfig largest = nas::sample_hrnet(space, base, nas::Pick::Largest, gen);
  auto model = pose::build_model(pose::to_json(largest), "supernet");
  model->to(DType::F64);
  model->init_weights(gen);
  nas::ElasticHRNet super(model);
  model->train();
  nn::AdamOptions o;
  o.lr = 3e-3;
  nn::Adam adam(model->parameters(), o);
  const nas::SandwichBatch batch = tiny_batch();
  std::vector<std::vector<double>> losses;
  for (int i = 0; i < steps; ++i) losses.push_back(nas::sandwich_step(super, space, batch, adam, gen).losses);
  return losses;
}

}  // namespace

TEST_CASE("nas sandwich: a tiny supernet learns, every sub-network's loss falls, deterministic by seed") {
  const auto a = train(30, 5);
  REQUIRE(a.front().size() == 4);  // largest, smallest, 2 random
  // The largest and the smallest are the same network every step: their losses must fall.
  CHECK(a.back()[0] < 0.5 * a.front()[0]);
  CHECK(a.back()[1] < 0.7 * a.front()[1]);
  CHECK(train(3, 5) == std::vector<std::vector<double>>(a.begin(), a.begin() + 3));
}
