#include "pose/keypoints.h"

#include <algorithm>
#include <array>

#include "tensor/error.h"

namespace wb::pose {
namespace {

// Drawing colours follow MMPose's coco_wholebody dataset_info, so our pictures read like theirs.
constexpr Rgb kCentre{51, 153, 255};
constexpr Rgb kLeft{0, 255, 0};
constexpr Rgb kRight{255, 128, 0};
constexpr Rgb kWhite{255, 255, 255};
constexpr Rgb kThumb{255, 128, 0};
constexpr Rgb kForefinger{255, 153, 255};
constexpr Rgb kMiddle{102, 178, 255};
constexpr Rgb kRing{255, 51, 51};
constexpr Rgb kPinky{0, 255, 0};

// Official OKS sigmas (COCO-WholeBody myeval_wholebody.py, identical in xtcocoapi and MMPose).
constexpr std::array<double, 17> kBodySigmas = {0.026, 0.025, 0.025, 0.035, 0.035, 0.079,
                                                0.079, 0.072, 0.072, 0.062, 0.062, 0.107,
                                                0.107, 0.087, 0.087, 0.089, 0.089};
constexpr std::array<double, 6> kFootSigmas = {0.068, 0.066, 0.066, 0.092, 0.094, 0.094};
constexpr std::array<double, 68> kFaceSigmas = {
    0.042, 0.043, 0.044, 0.043, 0.040, 0.035, 0.031, 0.025, 0.020, 0.023, 0.029, 0.032,
    0.037, 0.038, 0.043, 0.041, 0.045, 0.013, 0.012, 0.011, 0.011, 0.012, 0.012, 0.011,
    0.011, 0.013, 0.015, 0.009, 0.007, 0.007, 0.007, 0.012, 0.009, 0.008, 0.016, 0.010,
    0.017, 0.011, 0.009, 0.011, 0.009, 0.007, 0.013, 0.008, 0.011, 0.012, 0.010, 0.034,
    0.008, 0.008, 0.009, 0.008, 0.008, 0.007, 0.010, 0.008, 0.009, 0.009, 0.009, 0.007,
    0.007, 0.008, 0.011, 0.008, 0.008, 0.008, 0.01, 0.008};
constexpr std::array<double, 21> kHandSigmas = {0.029, 0.022, 0.035, 0.037, 0.047, 0.026, 0.025,
                                                0.024, 0.035, 0.018, 0.024, 0.022, 0.026, 0.017,
                                                0.021, 0.021, 0.032, 0.02,  0.019, 0.022, 0.031};

constexpr int kFootBegin = 17, kFaceBegin = 23, kLeftHandBegin = 91, kRightHandBegin = 112;

struct Builder {
  KeypointSet s;

  void add(const std::string& name, Rgb color, double sigma) {
    s.names.push_back(name);
    s.colors.push_back(color);
    s.sigmas.push_back(sigma);
  }
  void part(const std::string& name, int begin) { s.parts.push_back({name, begin, s.size()}); }
  void pair(int a, int b) { s.flip_pairs.emplace_back(std::min(a, b), std::max(a, b)); }
  void link(int a, int b, Rgb c) { s.skeleton.push_back({a, b, c}); }
  void chain(int first, int last, Rgb c) {
    for (int i = first; i < last; ++i) link(i, i + 1, c);
  }
  void loop(int first, int last, Rgb c) {
    chain(first, last, c);
    link(last, first, c);
  }

  void body() {
    const char* sides[] = {"eye", "ear", "shoulder", "elbow", "wrist", "hip", "knee", "ankle"};
    add("nose", kCentre, kBodySigmas[0]);
    int i = 1;
    for (const char* side : sides) {
      // The head points are drawn in the centre colour, the limbs by side.
      const bool head = i < 5;
      add(std::string("left_") + side, head ? kCentre : kLeft, kBodySigmas[i]);
      add(std::string("right_") + side, head ? kCentre : kRight, kBodySigmas[i + 1]);
      pair(i, i + 1);
      i += 2;
    }
    part("body", 0);
    // Index names: 0 nose, 1/2 eyes, 3/4 ears, 5/6 shoulders, 7/8 elbows, 9/10 wrists,
    // 11/12 hips, 13/14 knees, 15/16 ankles (left first).
    link(15, 13, kLeft);
    link(13, 11, kLeft);
    link(16, 14, kRight);
    link(14, 12, kRight);
    link(11, 12, kCentre);
    link(5, 11, kCentre);
    link(6, 12, kCentre);
    link(5, 6, kCentre);
    link(5, 7, kLeft);
    link(6, 8, kRight);
    link(7, 9, kLeft);
    link(8, 10, kRight);
    link(1, 2, kCentre);
    link(0, 1, kCentre);
    link(0, 2, kCentre);
    link(1, 3, kCentre);
    link(2, 4, kCentre);
    link(3, 5, kCentre);
    link(4, 6, kCentre);
  }

  void foot() {
    const char* toes[] = {"big_toe", "small_toe", "heel"};
    for (const char* side : {"left_", "right_"}) {
      const int base = s.size();
      const int ankle = side[0] == 'l' ? 15 : 16;
      const Rgb limb = side[0] == 'l' ? kLeft : kRight;
      for (int k = 0; k < 3; ++k) {
        add(side + std::string(toes[k]), kRight, kFootSigmas[base + k - kFootBegin]);
        link(ankle, base + k, limb);
      }
    }
    for (int k = 0; k < 3; ++k) pair(kFootBegin + k, kFootBegin + 3 + k);
    part("foot", kFootBegin);
  }

  // The 68-point 300W layout: jaw 0-16, brows 17-26, nose bridge 27-30, nostrils 31-35,
  // eyes 36-47, outer lip 48-59, inner lip 60-67.
  void face() {
    for (int k = 0; k < 68; ++k) add("face-" + std::to_string(k), kWhite, kFaceSigmas[k]);
    const int f = kFaceBegin;
    auto mirror = [&](int a, int b) { pair(f + a, f + b); };
    for (int k = 0; k < 8; ++k) mirror(k, 16 - k);         // jaw contour, chin 8 on the axis
    for (int k = 0; k < 5; ++k) mirror(17 + k, 26 - k);    // brows
    mirror(31, 35);                                          // nostrils, 33 on the axis
    mirror(32, 34);
    // Eyes: each eye is a ring of six that starts at its outer corner for the right eye (36) and
    // at its inner corner for the left eye (42), so the mirror of 36+k is not simply 45-k.
    for (int k = 0; k < 4; ++k) mirror(36 + k, 45 - k);
    mirror(40, 47);
    mirror(41, 46);
    for (int k = 0; k < 3; ++k) mirror(48 + k, 54 - k);    // outer upper lip, 51 on the axis
    for (int k = 0; k < 2; ++k) mirror(55 + k, 59 - k);    // outer lower lip, 57 on the axis
    for (int k = 0; k < 2; ++k) mirror(60 + k, 64 - k);    // inner upper lip, 62 on the axis
    mirror(65, 67);                                          // inner lower lip, 66 on the axis
    chain(f + 0, f + 16, kWhite);
    chain(f + 17, f + 21, kWhite);
    chain(f + 22, f + 26, kWhite);
    chain(f + 27, f + 30, kWhite);
    chain(f + 31, f + 35, kWhite);
    loop(f + 36, f + 41, kWhite);
    loop(f + 42, f + 47, kWhite);
    loop(f + 48, f + 59, kWhite);
    loop(f + 60, f + 67, kWhite);
    part("face", kFaceBegin);
  }

  // 21 points per hand: root, then four joints per finger from the palm outwards.
  void hand(const std::string& side, int body_wrist) {
    const int root = s.size();
    add(side + "_hand_root", kWhite, kHandSigmas[0]);
    const char* fingers[] = {"thumb", "forefinger", "middle_finger", "ring_finger", "pinky_finger"};
    const Rgb colors[] = {kThumb, kForefinger, kMiddle, kRing, kPinky};
    for (int f = 0; f < 5; ++f) {
      const int first = s.size();
      for (int j = 1; j <= 4; ++j) {
        add(side + "_" + fingers[f] + std::to_string(j), colors[f], kHandSigmas[s.size() - root]);
      }
      link(root, first, colors[f]);
      chain(first, first + 3, colors[f]);
    }
    // The body's wrist and the hand root are separate annotations of nearly the same point; the
    // link keeps a drawn hand attached to its arm.
    link(body_wrist, root, kWhite);
    part(side + "hand", root);
  }

  void finish() {
    s.flip_index.resize(s.names.size());
    for (int i = 0; i < s.size(); ++i) s.flip_index[i] = i;
    for (auto [a, b] : s.flip_pairs) {
      s.flip_index[a] = b;
      s.flip_index[b] = a;
    }
  }
};

KeypointSet build_wholebody() {
  Builder b;
  b.s.name = "coco_wholebody";
  b.body();
  b.foot();
  b.face();
  b.hand("left", 9);
  b.hand("right", 10);
  // A horizontal flip turns the left hand into a right hand: the whole parts swap, point by point.
  for (int k = 0; k < 21; ++k) b.pair(kLeftHandBegin + k, kRightHandBegin + k);
  b.finish();
  return b.s;
}

KeypointSet build_body() {
  Builder b;
  b.s.name = "coco_body";
  b.body();
  b.finish();
  return b.s;
}

}  // namespace

int KeypointSet::index_of(const std::string& keypoint_name) const {
  for (int i = 0; i < size(); ++i) {
    if (names[i] == keypoint_name) return i;
  }
  fail(name, ": no keypoint named '", keypoint_name, "'");
}

const KeypointPart& KeypointSet::part(const std::string& part_name) const {
  for (const KeypointPart& p : parts) {
    if (p.name == part_name) return p;
  }
  fail(name, ": no part named '", part_name, "'");
}

const KeypointSet& coco_wholebody() {
  static const KeypointSet set = build_wholebody();
  return set;
}

const KeypointSet& coco_body() {
  static const KeypointSet set = build_body();
  return set;
}

}  // namespace wb::pose
