// The OKS evaluator against xtcocotools: the shared fixture's recorded numbers, xtcocotools run on
// random data by tests/reference/gen_oks_random.py, and hand-built cases for single rules.
// Also OKS-NMS and bbox_keypoint rescoring.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "datasets/coco.h"
#include "datasets/oks_eval.h"
#include "datasets/pose_nms.h"
#include "pose/keypoints.h"
#include "tests/util.h"

using namespace wb::data;
using json = nlohmann::json;

namespace {

std::string fixture(const std::string& name) {
  const std::string path = std::string(WBPOSE_SOURCE_DIR) + "/../shared/fixtures/wholebody_eval/" + name;
  REQUIRE_MESSAGE(std::filesystem::exists(path), "fixture missing: " << path);
  return path;
}

const std::vector<std::string> kAllParts = {"body", "foot", "face", "lefthand", "righthand", "wholebody"};

void check_stats(const OksStats& ours, const std::vector<double>& expected, const std::string& what, double tol) {
  REQUIRE(expected.size() == 10);
  for (int s = 0; s < 10; ++s) {
    INFO(what, " ", kOksStatNames[s], ": ours ", ours[s], " expected ", expected[s]);
    CHECK(std::abs(ours[s] - expected[s]) <= tol);
  }
}

const OksStats& stats_of(const std::vector<std::pair<std::string, OksStats>>& rows, const std::string& part) {
  for (const auto& [name, s] : rows) {
    if (name == part) return s;
  }
  FAIL("no stats for part " << part);
  return rows.front().second;
}

}  // namespace

TEST_CASE("oks eval: equals xtcocotools on the COCO-WholeBody fixture, every part and stat") {
  const json expected = json::parse(std::ifstream(fixture("expected.json")));
  const CocoKeypointsFile gt = read_coco_keypoints(fixture("example_gt.json"));
  for (const std::string file : {"example_preds.json", "example_preds_partscores.json"}) {
    const auto results = read_keypoint_results(fixture(file));
    const auto rows = evaluate_wholebody(gt, results, kAllParts);
    for (const std::string& part : kAllParts) {
      check_stats(stats_of(rows, part), expected["results"][file][part].get<std::vector<double>>(), file + " " + part,
                  1e-9);
    }
  }
  // The sigmas the fixture was computed with are ours.
  CHECK(expected["sigmas_133"].get<std::vector<double>>() == wb::pose::coco_wholebody().sigmas);
}

TEST_CASE("oks eval: ground truth fed back scores 1 in all six parts") {
  const json expected = json::parse(std::ifstream(fixture("expected.json")));
  const CocoKeypointsFile gt = read_coco_keypoints(fixture("example_gt.json"));
  const auto rows = evaluate_wholebody(gt, ground_truth_as_results(gt), kAllParts);
  for (const std::string& part : kAllParts) {
    check_stats(stats_of(rows, part), expected["results"]["gt_as_predictions"][part].get<std::vector<double>>(),
                "gt " + part, 1e-9);
    CHECK(stats_of(rows, part)[0] == doctest::Approx(1.0).epsilon(1e-12));
  }
}

TEST_CASE("oks eval: plain COCO body evaluation on 17-keypoint files") {
  // The fixture cut down to COCO person keypoints must give the body pass's numbers.
  const json expected = json::parse(std::ifstream(fixture("expected.json")));
  CocoKeypointsFile gt = read_coco_keypoints(fixture("example_gt.json"));
  gt.format = KeypointFormat::coco_body;
  for (auto& a : gt.annotations) a.keypoints.resize(51);
  auto results = read_keypoint_results(fixture("example_preds.json"));
  for (auto& r : results) r.keypoints.resize(51);
  check_stats(evaluate_coco_body(gt, results), expected["results"]["example_preds.json"]["body"].get<std::vector<double>>(),
              "coco body", 1e-9);
  CHECK_THROWS_WITH_AS(evaluate_oks(gt, results, wholebody_pass("foot")), doctest::Contains("pass 'foot'"), wb::Error);
}

TEST_CASE("oks eval: equals xtcocotools run on random data (several seeds)") {
  wb::SafetensorsFile ref;
  if (!wb::test::load_reference("oks_random", ref)) return;
  const char* dir = std::getenv("WBPOSE_REF_DIR");
  REQUIRE(dir != nullptr);
  const wb::Tensor seeds = wb::test::ref(ref, "seeds");
  REQUIRE(seeds.numel() >= 3);
  for (int64_t i = 0; i < seeds.numel(); ++i) {
    const std::string seed = std::to_string(seeds.data<int64_t>()[i]);
    const std::string stem = std::string(dir) + "/oks_random_seed" + seed;
    const CocoKeypointsFile gt = read_coco_keypoints(stem + "_gt.json");
    const auto results = read_keypoint_results(stem + "_results.json");
    const auto rows = evaluate_wholebody(gt, results, kAllParts);
    for (const std::string& part : kAllParts) {
      const wb::Tensor& e = wb::test::ref(ref, "seed" + seed + "." + part);
      REQUIRE(e.numel() == 10);
      const std::vector<double> expected(e.data<double>(), e.data<double>() + 10);
      check_stats(stats_of(rows, part), expected, "seed " + seed + " " + part, 1e-9);
    }
  }
}

TEST_CASE("oks eval: a result with no positive score in a part is absent from that pass") {
  const CocoKeypointsFile gt = read_coco_keypoints(fixture("example_gt.json"));
  auto results = ground_truth_as_results(gt);
  // A stray pose far from everyone, with zero scores everywhere except the body.
  KeypointResult stray = results[0];
  for (size_t k = 0; k < stray.keypoints.size(); k += 3) {
    stray.keypoints[k] += 5000;
    stray.keypoints[k + 2] = k < 3 * 17 ? 0.9 : 0.0;
  }
  results.push_back(stray);
  const auto rows = evaluate_wholebody(gt, results, {"body", "face"});
  CHECK(stats_of(rows, "body")[0] < 1.0);  // a false positive ranked with the true ones
  CHECK(stats_of(rows, "face")[0] == doctest::Approx(1.0).epsilon(1e-12));
}

TEST_CASE("oks eval: bad input") {
  const CocoKeypointsFile gt = read_coco_keypoints(fixture("example_gt.json"));
  auto results = ground_truth_as_results(gt);
  results[3].image_id = 123456789;
  CHECK_THROWS_WITH_AS(evaluate_wholebody(gt, results, {"body"}), doctest::Contains("image 123456789"), wb::Error);
  CHECK_THROWS_WITH_AS(wholebody_pass("hands"), doctest::Contains("unknown part 'hands'"), wb::Error);
  CHECK_THROWS_AS(parse_part_list("body,,face"), wb::Error);
  CHECK_THROWS_WITH_AS(parse_part_list("body,body"), doctest::Contains("twice"), wb::Error);
  CHECK(parse_part_list("face,body") == std::vector<std::string>{"face", "body"});
}

TEST_CASE("oks eval: table and JSON output") {
  const std::vector<std::pair<std::string, OksStats>> rows = {
      {"body", {0.5, 1, 0.25, -1, 0.125, 0.75, 1, 0.5, -1, 0.625}}, {"face", {}}};
  const std::string table = format_oks_table(rows);
  CHECK(table.find("AP50") != std::string::npos);
  CHECK(table.find("body") != std::string::npos);
  CHECK(table.find("-1.000") != std::string::npos);
  CHECK(std::count(table.begin(), table.end(), '\n') == 3);

  const json j = json::parse(oks_stats_json(rows));
  REQUIRE(j.size() == 2);
  CHECK(j.begin().key() == "body");
  for (int s = 0; s < 10; ++s) CHECK(j["body"][kOksStatNames[s]].get<double>() == rows[0].second[s]);
}

TEST_CASE("bbox_keypoint rescoring: box score times the mean keypoint score above 0.2") {
  const std::vector<double> scores = {0.9, 0.1, 0.5, 0.2, 0.7};
  CHECK(bbox_keypoint_score(0.8, scores) == doctest::Approx(0.8 * (0.9 + 0.5 + 0.7) / 3));
  CHECK(bbox_keypoint_score(0.8, scores, 0.6) == doctest::Approx(0.8 * 0.8));
  const std::vector<double> low = {0.1, 0.2};
  CHECK(bbox_keypoint_score(0.8, low) == 0.0);
}

TEST_CASE("oks_nms: keeps the best of overlapping poses, all of distinct ones") {
  const std::vector<double> sigmas = {0.05, 0.05, 0.1};
  auto pose = [](double dx, double score, double s3 = 1.0) {
    return PoseCandidate{{10 + dx, 10, 1.0, 20 + dx, 30, 1.0, 40 + dx, 50, s3}, 900.0, score};
  };
  // 0 and 2 coincide up to 0.5 px, 1 is far away; 3 ties with 0 in score and coincides with it.
  const std::vector<PoseCandidate> poses = {pose(0, 0.8), pose(200, 0.9), pose(0.5, 0.95), pose(0.2, 0.95)};
  const std::vector<size_t> kept = oks_nms(poses, 0.9, sigmas);
  CHECK(kept == std::vector<size_t>{2, 1});
  // A threshold above every OKS keeps everything, best first, ties in input order.
  CHECK(oks_nms(poses, 1.0, sigmas) == std::vector<size_t>{2, 3, 1, 0});

  // The visibility threshold decides which keypoints count: with the third point far off and
  // unscored, two poses agreeing on the rest overlap fully.
  std::vector<PoseCandidate> vis = {pose(0, 0.9, 0.9), pose(0, 0.8, 0.1)};
  vis[1].keypoints[6] += 300;
  CHECK(oks_nms(vis, 0.9, sigmas).size() == 2);
  CHECK(oks_nms(vis, 0.9, sigmas, 0.2) == std::vector<size_t>{0});

  CHECK_THROWS_WITH_AS(oks_nms(poses, 0.9, std::vector<double>{0.1}), doctest::Contains("pose #0"), wb::Error);
}
