// The smallest ZoomNet config the tests build: 32x32 crops (8x8 heatmaps), 8x8 heads, every width 2-4.
#pragma once
#include <nlohmann/json.hpp>

namespace wb::test {

inline nlohmann::json tiny_zoomnet_config() {
  const nlohmann::json net = {{"width", 2},          {"stem_channels", 4},       {"stage1_blocks", 1},
                              {"stage1_channels", 2}, {"num_modules", {1, 1, 1}}, {"num_blocks", {1, 1, 1}}};
  nlohmann::json body = net, face = net, hand = net;
  body["input_size"] = {32, 32};
  for (nlohmann::json* h : {&face, &hand}) {
    (*h)["input_size"] = {8, 8};
    (*h)["roi_expansion"] = 1.2;
  }
  return {{"type", "zoomnet"}, {"body", body}, {"face_head", face}, {"hand_head", hand}, {"sigma", 1.0},
          {"min_roi_side", 4.0}};
}

}  // namespace wb::test
