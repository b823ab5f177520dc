// The ZoomNAS search space (spec/zoomnas.md §2.1 Table 2; docs/nas.md has every decision the
// paper leaves open). An architecture is the plain model config (pose::ZoomNetConfig, whose parts
// are pose::HRNetConfig): a space only lists the choices per dimension and writes a sample into a
// copy of a base config, so a sampled architecture builds, trains and exports with pose/ as is.
//
// Depth is counted in blocks per stage, as the paper does; in stages 2-4 a depth of D is D /
// blocks_per_module HRModules of blocks_per_module BasicBlocks (HRNet-W32: 1, 4, 3 modules of 4),
// so "skip the trailing operators" skips trailing modules with their fuse layers.
// Groups: for a chosen width C the choices are G = C / 2^i (i >= 0, 2^i dividing C) and 1 (dense).
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "pose/models/hrnet.h"
#include "pose/models/zoomnet.h"
#include "tensor/generator.h"

namespace wb::nas {

// Choices for one HRNet (BodyNet, or the network of a head). Empty stem_widths: the net has no stem.
struct HRNetSpace {
  std::vector<int64_t> input_heights;          // H
  int64_t aspect_w = 3, aspect_h = 4;          // W = H * aspect_w / aspect_h, rounded (input_width())
  std::vector<int64_t> stem_widths;            // C0
  std::vector<int64_t> stage1_depths;          // Bottlenecks
  std::vector<int64_t> stage1_widths;          // Bottleneck planes (layer1 outputs 4x this)
  std::array<std::vector<int64_t>, 3> stage_depths;   // BasicBlocks per branch in stages 2-4
  std::array<std::vector<int64_t>, 4> branch_widths;  // per branch, shared by stages 2-4
  int64_t blocks_per_module = 4;
  bool search_groups = true;  // false: every conv dense (G = 1)

  // W for a height H: the nearest multiple of `multiple` to H * aspect_w / aspect_h, ties down
  // (HRNet's four branches need sizes divisible by 32 with a stem, by 8 without).
  int64_t input_width(int64_t h) const;
  void validate(const std::string& where) const;
};

// A head's network and its connection to BodyNet.
struct HeadSpace {
  HRNetSpace net;
  std::vector<int64_t> feature_stages;  // BodyNet feature stage 0-4
  std::vector<double> roi_expansions;
};

struct ZoomNasSpace {
  HRNetSpace body;
  HeadSpace face, hand;
  void validate(const std::string& where) const;
};

// Table 2 as the paper gives it (the largest BodyNet is HRNet-W32 at 384x288).
ZoomNasSpace zoomnas_space();

// Fields as named above ("body", "face_head", "hand_head"; each HRNetSpace field; the heads add
// "feature_stages" and "roi_expansions"), over the defaults of zoomnas_space(); unknown fields and
// empty choice lists are errors naming the field.
ZoomNasSpace zoomnas_space_from_json(const nlohmann::json& j, const std::string& where);
nlohmann::json to_json(const ZoomNasSpace& s);

enum class Pick { Largest, Smallest, Uniform };

// Writes a choice for every searched dimension of `s` into a copy of `base` (which keeps
// num_keypoints, head kind and stem). Largest: every maximum and dense convs; Smallest: every
// minimum and the most groups (depthwise where the width allows); Uniform: each dimension
// independently uniform, drawn in a fixed order from `gen`.
pose::HRNetConfig sample_hrnet(const HRNetSpace& s, const pose::HRNetConfig& base, Pick pick, Generator& gen);
pose::ZoomNetConfig sample_zoomnet(const ZoomNasSpace& s, const pose::ZoomNetConfig& base, Pick pick,
                                   Generator& gen);

// Whether `c` is a point of `s` (every searched value one of the choices): what export and the
// controllers check before trusting a config.
bool contains(const HRNetSpace& s, const pose::HRNetConfig& c);
bool contains(const ZoomNasSpace& s, const pose::ZoomNetConfig& c);

// The group choices for a width C: C / 2^i for each 2^i dividing C, then 1; descending.
std::vector<int64_t> group_choices(int64_t width);

}  // namespace wb::nas
