// The NAS search space (nas/space.h) and the analytic FLOPs formula (nas/flops.h): Table 2's
// choices, the largest BodyNet being HRNet-W32, deterministic sampling, JSON round trips and
// errors, grouped configs building in the plain model code, and the formula against
// nn::count_flops on 50 random configs of a scaled-down space.
#include <algorithm>
#include <string>

#include <nlohmann/json.hpp>

#include "nas/flops.h"
#include "nas/random_search.h"
#include "nas/space.h"
#include "nn/flops.h"
#include "pose/models/factory.h"
#include "pose/models/zoomnet.h"
#include "tensor/error.h"
#include "tests/nas_test_space.h"
#include "tests/util.h"

using namespace wb;
using nlohmann::json;

using wb::test::table2_divided_by_8;

TEST_CASE("nas space: Table 2's choices, the largest BodyNet is HRNet-W32") {
  const nas::ZoomNasSpace s = nas::zoomnas_space();
  CHECK(s.body.stage_depths[1] == std::vector<int64_t>{8, 12, 16});
  CHECK(s.face.net.input_heights == std::vector<int64_t>{32, 48, 64, 80, 96});
  CHECK(s.hand.roi_expansions == std::vector<double>{1.0, 1.1, 1.2, 1.3});
  // W = 3H/4 rounded to a multiple of 32 (ties down); heads square.
  CHECK(s.body.input_width(256) == 192);
  CHECK(s.body.input_width(288) == 224);
  CHECK(s.body.input_width(320) == 224);
  CHECK(s.body.input_width(352) == 256);
  CHECK(s.body.input_width(384) == 288);
  CHECK(s.face.net.input_width(48) == 48);

  Generator gen(1);
  const pose::ZoomNetConfig big = nas::sample_zoomnet(s, pose::ZoomNetConfig{}, nas::Pick::Largest, gen);
  const pose::HRNetConfig& b = big.body;
  CHECK(b.input_size == std::array<int64_t, 2>{384, 288});
  CHECK(b.stem_channels == 64);
  CHECK(b.stage1_blocks == 4);
  CHECK(b.stage1_channels == 64);
  CHECK(b.num_modules == std::array<int64_t, 3>{1, 4, 3});
  CHECK(b.num_blocks == std::array<int64_t, 3>{4, 4, 4});
  CHECK(b.branch_channels(4) == std::vector<int64_t>{32, 64, 128, 256});
  CHECK(b.branch_groups == std::array<int64_t, 4>{1, 1, 1, 1});
  CHECK(b.stage1_groups == 1);
  // Same FLOPs as the plain HRNet-W32 at the same size (the formula is checked against the counter below).
  pose::HRNetConfig w32;
  w32.num_keypoints = b.num_keypoints;
  w32.input_size = b.input_size;
  CHECK(nas::hrnet_macs(w32) == nas::hrnet_macs(b));

  const pose::ZoomNetConfig small = nas::sample_zoomnet(s, pose::ZoomNetConfig{}, nas::Pick::Smallest, gen);
  CHECK(small.body.input_size == std::array<int64_t, 2>{256, 192});
  CHECK(small.body.branch_groups == std::array<int64_t, 4>{8, 16, 32, 64});  // depthwise
  CHECK(small.face_head.net.num_modules == std::array<int64_t, 3>{1, 2, 2});
  CHECK(nas::zoomnet_macs(small).total() < nas::zoomnet_macs(big).total());
  CHECK(nas::contains(s, big));
  CHECK(nas::contains(s, small));
  CHECK_FALSE(nas::contains(s, pose::ZoomNetConfig{}));  // ZoomNet's W18 heads have width 18: not in the space
}

TEST_CASE("nas space: group choices") {
  CHECK(nas::group_choices(32) == std::vector<int64_t>{32, 16, 8, 4, 2, 1});
  CHECK(nas::group_choices(24) == std::vector<int64_t>{24, 12, 6, 3, 1});
  CHECK(nas::group_choices(1) == std::vector<int64_t>{1});
}

TEST_CASE("nas space: uniform samples are deterministic by seed, in the space, and vary") {
  const nas::ZoomNasSpace s = nas::zoomnas_space();
  Generator a(7), b(7), c(8);
  const json first = pose::to_json(nas::sample_hrnet(s.body, pose::HRNetConfig{}, nas::Pick::Uniform, a));
  CHECK(first == pose::to_json(nas::sample_hrnet(s.body, pose::HRNetConfig{}, nas::Pick::Uniform, b)));
  bool differs = false;
  for (int i = 0; i < 20; ++i) {
    const pose::ZoomNetConfig z = nas::sample_zoomnet(s, pose::ZoomNetConfig{}, nas::Pick::Uniform, c);
    CHECK(nas::contains(s, z));
    z.validate("sample");
    differs = differs || pose::to_json(z.body) != first;
  }
  CHECK(differs);
}

TEST_CASE("nas space: JSON round trip and errors naming the field") {
  const nas::ZoomNasSpace s = table2_divided_by_8();
  const json j = nas::to_json(s);
  CHECK(nas::to_json(nas::zoomnas_space_from_json(j, "space.json")) == j);
  CHECK(nas::to_json(nas::zoomnas_space_from_json(json::object(), "space.json")) == nas::to_json(nas::zoomnas_space()));
  auto fails_with = [](const json& bad, const std::string& text) {
    try {
      nas::zoomnas_space_from_json(bad, "space.json");
      FAIL("no error for " << bad.dump());
    } catch (const Error& e) {
      const std::string what = e.what();
      CHECK_MESSAGE(what.find(text) != std::string::npos, what);
    }
  };
  fails_with({{"body", {{"widths", {1}}}}}, "widths");
  fails_with({{"body", {{"stage1_depths", json::array()}}}}, "stage1_depths");
  fails_with({{"body", {{"stage_depths", {{4}, {8, 10}, {8}}}}}}, "blocks_per_module");
  fails_with({{"body", {{"input_heights", {250}}}}}, "input_heights");
  fails_with({{"face_head", {{"feature_stages", {5}}}}}, "feature_stages");
  fails_with({{"hand_head", {{"stem_widths", {8}}}}}, "stem_widths");
  fails_with({{"dims", 1}}, "dims");
}

TEST_CASE("nas flops: the formula equals nn::count_flops on 50 random configs") {
  const nas::ZoomNasSpace s = table2_divided_by_8();
  Generator gen(3);
  for (int i = 0; i < 50; ++i) {
    const pose::ZoomNetConfig z = nas::sample_zoomnet(s, pose::ZoomNetConfig{}, nas::Pick::Uniform, gen);
    CAPTURE(pose::to_json(z.body).dump());
    if (i % 5 == 0) {  // the whole pipeline (decodes RoIs, so slower): every fifth config
      pose::ZoomNet model(z);
      const nn::FlopsReport r = nn::count_flops(model, {1, 3, z.body.input_size[0], z.body.input_size[1]});
      const nas::ZoomNetMacs m = nas::zoomnet_macs(z);
      CHECK(r.at("body").macs == m.body);
      CHECK(r.at("face_head").macs == m.face);
      CHECK(r.at("hand_head").macs == m.hand);
      CHECK(r.macs() == m.total());
    } else {
      for (const pose::HRNetConfig* c : {&z.body, &z.hand_head.net}) {
        auto model = pose::build_model(pose::to_json(*c), "sample");
        const int64_t cin = c->stem ? 3 : c->stem_channels;
        const nn::FlopsReport r = nn::count_flops(*model, {1, cin, c->input_size[0], c->input_size[1]});
        CHECK(r.macs() == nas::hrnet_macs(*c));
      }
    }
  }
}

TEST_CASE("nas random search: never over budget, deterministic by seed, the best by score") {
  const nas::ZoomNasSpace s = nas::zoomnas_space();
  const pose::ZoomNetConfig base;
  Generator g(0);
  const int64_t smallest = nas::zoomnet_macs(nas::sample_zoomnet(s, base, nas::Pick::Smallest, g)).total();
  const int64_t largest = nas::zoomnet_macs(nas::sample_zoomnet(s, base, nas::Pick::Largest, g)).total();
  const int64_t budget = smallest + (largest - smallest) / 4;
  // A score that prefers cheap head inputs: the search must return the candidate maximising it.
  auto score = [](const pose::ZoomNetConfig& c) { return 1.0 / static_cast<double>(c.face_head.net.input_size[0]); };
  Generator a(42), b(42);
  const auto ra = nas::random_search(s, base, {budget}, 40, a, score);
  const auto rb = nas::random_search(s, base, {budget}, 40, b, score);
  REQUIRE(ra.size() == 40);
  double best = 0;
  for (size_t i = 0; i < ra.size(); ++i) {
    CHECK(ra[i].macs <= budget);
    CHECK(ra[i].macs == nas::zoomnet_macs(ra[i].config).total());
    CHECK(nas::contains(s, ra[i].config));
    CHECK(pose::to_json(ra[i].config.body) == pose::to_json(rb[i].config.body));
    best = std::max(best, ra[i].score);
  }
  CHECK(ra[nas::best_candidate(ra)].score == best);
  Generator c(1);
  CHECK_THROWS_WITH_AS(nas::sample_under_budget(s, base, {smallest - 1}, c, 50), doctest::Contains("budget"), Error);
}

TEST_CASE("nas random search: a budget with a floor samples only its band; a band nothing fits is an error") {
  const nas::ZoomNasSpace s = nas::zoomnas_space();
  const pose::ZoomNetConfig base;
  Generator g(0);
  const int64_t largest = nas::zoomnet_macs(nas::sample_zoomnet(s, base, nas::Pick::Largest, g)).total();
  // 50-63% of the paper's ZoomNet (the search point): most uniform samples are below it.
  const int64_t zoomnet = nas::zoomnet_macs(base).total();
  const nas::FlopsBudget band{zoomnet * 63 / 100, zoomnet * 50 / 100};
  int below_floor = 0;
  for (int i = 0; i < 200; ++i) {
    below_floor += nas::zoomnet_macs(nas::sample_zoomnet(s, base, nas::Pick::Uniform, g)).total() < band.min_macs;
  }
  CHECK(below_floor > 100);  // most plain samples are below the floor
  const auto r = nas::random_search(s, base, band, 30, g, [](const pose::ZoomNetConfig&) { return 0.0; });
  REQUIRE(r.size() == 30);
  for (const auto& c : r) {
    CHECK(c.macs >= band.min_macs);
    CHECK(c.macs <= band.max_macs);
  }
  CHECK(band.str().find('-') != std::string::npos);
  // A band above the largest network holds nothing: an error naming the space's range. A floor
  // above the budget is an error too.
  CHECK_THROWS_WITH_AS(nas::sample_under_budget(s, base, {largest + 2, largest + 1}, g, 50),
                       doctest::Contains("GFLOPs (the space's networks have"), Error);
  CHECK_THROWS_WITH_AS(nas::sample_under_budget(s, base, {largest, largest + 1}, g, 50), doctest::Contains("floor"), Error);
}
