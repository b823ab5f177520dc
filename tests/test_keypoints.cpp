// The keypoint metadata table: sizes, part slices, flip pairs, skeleton and sigmas.
#include <doctest/doctest.h>

#include <set>

#include "pose/keypoints.h"
#include "tensor/error.h"

using wb::pose::coco_body;
using wb::pose::coco_wholebody;
using wb::pose::KeypointSet;

namespace {

// The spec's sigma table (wholebody-format-and-eval.md §2.4), typed in again here so that a slip
// in the library's copy cannot pass unnoticed.
const std::vector<double> kSpecBody = {0.026, 0.025, 0.025, 0.035, 0.035, 0.079, 0.079, 0.072, 0.072,
                                       0.062, 0.062, 0.107, 0.107, 0.087, 0.087, 0.089, 0.089};
const std::vector<double> kSpecFoot = {0.068, 0.066, 0.066, 0.092, 0.094, 0.094};
const std::vector<double> kSpecFace = {
    0.042, 0.043, 0.044, 0.043, 0.040, 0.035, 0.031, 0.025, 0.020, 0.023, 0.029, 0.032, 0.037, 0.038,
    0.043, 0.041, 0.045, 0.013, 0.012, 0.011, 0.011, 0.012, 0.012, 0.011, 0.011, 0.013, 0.015, 0.009,
    0.007, 0.007, 0.007, 0.012, 0.009, 0.008, 0.016, 0.010, 0.017, 0.011, 0.009, 0.011, 0.009, 0.007,
    0.013, 0.008, 0.011, 0.012, 0.010, 0.034, 0.008, 0.008, 0.009, 0.008, 0.008, 0.007, 0.010, 0.008,
    0.009, 0.009, 0.009, 0.007, 0.007, 0.008, 0.011, 0.008, 0.008, 0.008, 0.01,  0.008};
const std::vector<double> kSpecHand = {0.029, 0.022, 0.035, 0.037, 0.047, 0.026, 0.025,
                                       0.024, 0.035, 0.018, 0.024, 0.022, 0.026, 0.017,
                                       0.021, 0.021, 0.032, 0.02,  0.019, 0.022, 0.031};

// Which part holds keypoint i.
std::string part_of(const KeypointSet& s, int i) {
  for (const auto& p : s.parts) {
    if (i >= p.begin && i < p.end) return p.name;
  }
  return "";
}

void check_flip_table(const KeypointSet& s) {
  REQUIRE(s.flip_index.size() == s.names.size());
  std::set<int> seen;
  for (auto [a, b] : s.flip_pairs) {
    CHECK(a < b);
    CHECK(seen.insert(a).second);  // every point is in at most one pair
    CHECK(seen.insert(b).second);
  }
  for (int i = 0; i < s.size(); ++i) {
    const int j = s.flip_index[i];
    REQUIRE(j >= 0);
    REQUIRE(j < s.size());
    CHECK(s.flip_index[j] == i);  // involution
    // A mirrored point swaps "left" and "right" in its name, or keeps its name on the axis.
    std::string mirrored = s.names[i];
    for (auto [from, to] : {std::pair{"left", "right"}, std::pair{"right", "left"}}) {
      const auto pos = mirrored.find(from);
      if (pos != std::string::npos) {
        mirrored.replace(pos, std::string(from).size(), to);
        break;
      }
    }
    if (s.names[i].rfind("face-", 0) != 0) CHECK(s.names[j] == mirrored);
    // Flips stay inside a part, except that the two hands trade places as wholes.
    const std::string pi = part_of(s, i), pj = part_of(s, j);
    if (pi == "lefthand") {
      CHECK(pj == "righthand");
      CHECK(j - s.part("righthand").begin == i - s.part("lefthand").begin);
    } else if (pi == "righthand") {
      CHECK(pj == "lefthand");
    } else {
      CHECK(pi == pj);
    }
  }
}

}  // namespace

TEST_CASE("coco_wholebody: 133 keypoints in five parts") {
  const KeypointSet& s = coco_wholebody();
  CHECK(s.size() == 133);
  CHECK(s.colors.size() == 133);
  CHECK(s.sigmas.size() == 133);
  std::set<std::string> unique(s.names.begin(), s.names.end());
  CHECK(unique.size() == 133);

  const std::vector<wb::pose::KeypointPart> parts = {
      {"body", 0, 17}, {"foot", 17, 23}, {"face", 23, 91}, {"lefthand", 91, 112}, {"righthand", 112, 133}};
  REQUIRE(s.parts.size() == parts.size());
  for (size_t p = 0; p < parts.size(); ++p) {
    CHECK(s.parts[p].name == parts[p].name);
    CHECK(s.parts[p].begin == parts[p].begin);
    CHECK(s.parts[p].end == parts[p].end);
  }
  CHECK(s.names[0] == "nose");
  CHECK(s.names[16] == "right_ankle");
  CHECK(s.names[17] == "left_big_toe");
  CHECK(s.names[22] == "right_heel");
  CHECK(s.names[23] == "face-0");
  CHECK(s.names[90] == "face-67");
  CHECK(s.names[91] == "left_hand_root");
  CHECK(s.names[111] == "left_pinky_finger4");
  CHECK(s.names[112] == "right_hand_root");
  CHECK(s.index_of("right_thumb1") == 113);
  CHECK_THROWS_AS(s.index_of("tail"), wb::Error);
  CHECK_THROWS_AS(s.part("tail"), wb::Error);
}

TEST_CASE("coco_wholebody: sigmas equal the official table") {
  const KeypointSet& s = coco_wholebody();
  std::vector<double> spec = kSpecBody;
  for (const auto* v : {&kSpecFoot, &kSpecFace, &kSpecHand, &kSpecHand}) spec.insert(spec.end(), v->begin(), v->end());
  REQUIRE(spec.size() == 133);
  for (int i = 0; i < 133; ++i) {
    INFO("keypoint ", i, " ", s.names[i]);
    CHECK(s.sigmas[i] == spec[i]);
  }
}

TEST_CASE("coco_wholebody: flip pairs are an involution that respects the parts") {
  const KeypointSet& s = coco_wholebody();
  check_flip_table(s);
  // Points on the symmetry axis: nose, chin, nose bridge and tip, the mouth's centre line.
  std::set<int> fixed;
  for (int i = 0; i < s.size(); ++i) {
    if (s.flip_index[i] == i) fixed.insert(i);
  }
  const std::set<int> axis = {0, 23 + 8, 23 + 27, 23 + 28, 23 + 29, 23 + 30, 23 + 33,
                              23 + 51, 23 + 57, 23 + 62, 23 + 66};
  CHECK(fixed == axis);
  // Spot checks against the 300W mirror layout.
  CHECK(s.flip_index[23 + 0] == 23 + 16);
  CHECK(s.flip_index[23 + 17] == 23 + 26);
  CHECK(s.flip_index[23 + 36] == 23 + 45);
  CHECK(s.flip_index[23 + 40] == 23 + 47);
  CHECK(s.flip_index[23 + 48] == 23 + 54);
  CHECK(s.flip_index[23 + 65] == 23 + 67);
  CHECK(s.flip_index[s.index_of("left_heel")] == s.index_of("right_heel"));
}

TEST_CASE("coco_wholebody: skeleton links are valid and mirror onto links") {
  const KeypointSet& s = coco_wholebody();
  std::set<std::pair<int, int>> links;
  for (const auto& l : s.skeleton) {
    REQUIRE(l.a >= 0);
    REQUIRE(l.b >= 0);
    REQUIRE(l.a < s.size());
    REQUIRE(l.b < s.size());
    CHECK(l.a != l.b);
    CHECK(links.insert({std::min(l.a, l.b), std::max(l.a, l.b)}).second);
  }
  for (const auto& [a, b] : links) {
    const int fa = s.flip_index[a], fb = s.flip_index[b];
    INFO("link ", s.names[a], " - ", s.names[b]);
    CHECK(links.count({std::min(fa, fb), std::max(fa, fb)}) == 1);
  }
  // Every keypoint is drawn: each is an end of some link.
  std::set<int> ends;
  for (const auto& [a, b] : links) {
    ends.insert(a);
    ends.insert(b);
  }
  CHECK(ends.size() == 133);
}

TEST_CASE("coco_body: the 17-point subset of coco_wholebody") {
  const KeypointSet& b = coco_body();
  const KeypointSet& w = coco_wholebody();
  REQUIRE(b.size() == 17);
  REQUIRE(b.parts.size() == 1);
  CHECK(b.parts[0].name == "body");
  CHECK(b.parts[0].end == 17);
  for (int i = 0; i < 17; ++i) {
    CHECK(b.names[i] == w.names[i]);
    CHECK(b.sigmas[i] == w.sigmas[i]);
    CHECK(b.flip_index[i] == w.flip_index[i]);
  }
  CHECK(b.skeleton.size() == 19);
  check_flip_table(b);
}
