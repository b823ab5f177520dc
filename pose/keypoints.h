// Keypoint metadata: the one table of names, part slices, flip pairs, skeleton links and OKS sigmas
// for COCO-WholeBody (133 points) and its 17-point COCO body subset. Everything else (flip test,
// targets, drawing, evaluation) reads it from here.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace wb::pose {

struct Rgb {
  uint8_t r = 0, g = 0, b = 0;
  bool operator==(const Rgb&) const = default;
};

// A contiguous slice [begin, end) of the keypoint order, e.g. the face is [23, 91).
struct KeypointPart {
  std::string name;
  int begin = 0;
  int end = 0;
  int size() const { return end - begin; }
};

struct SkeletonLink {
  int a = 0;
  int b = 0;
  Rgb color;
};

struct KeypointSet {
  std::string name;
  std::vector<std::string> names;   // one per keypoint, in index order
  std::vector<Rgb> colors;          // one per keypoint, for drawing
  std::vector<double> sigmas;       // OKS sigmas, one per keypoint
  std::vector<KeypointPart> parts;  // disjoint, in index order, covering every keypoint
  // Mirror pairs (left, right) with left < right. Points on the symmetry axis (nose, chin, nose
  // bridge, mouth centre line) are in no pair and map to themselves.
  std::vector<std::pair<int, int>> flip_pairs;
  std::vector<int> flip_index;      // flip_index[i] = the point i becomes under a horizontal flip
  std::vector<SkeletonLink> skeleton;

  int size() const { return static_cast<int>(names.size()); }
  // Errors name the set and the unknown name.
  int index_of(const std::string& keypoint_name) const;
  const KeypointPart& part(const std::string& part_name) const;
};

// Order: body 0-16, foot 17-22, face 23-90, left hand 91-111, right hand 112-132. Parts are named
// "body", "foot", "face", "lefthand", "righthand" (the evaluator's pass names).
const KeypointSet& coco_wholebody();
// The 17 COCO person keypoints (identical to the first 17 of coco_wholebody()), one part "body".
const KeypointSet& coco_body();

}  // namespace wb::pose
