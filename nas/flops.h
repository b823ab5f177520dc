// Multiply-adds of the plain models built from a config, by formula over the config: what the
// controllers use to keep samples under a budget without building a network. The convention is
// nn/flops.h's (conv weight numel x output pixels; BN, activations, resizing and adds free), and
// tests/test_nas_space.cpp checks the formula against nn::count_flops on random configs.
#pragma once
#include <cstdint>

#include "pose/models/hrnet.h"
#include "pose/models/zoomnet.h"

namespace wb::nas {

// An HRNet and its HeatmapHead (pose/models/zoomnet.cpp's make_head: the final 1x1 layer, after a
// 1x1 conv for "v2") at c.input_size: the input is an image for a stem, else a stem_channels map.
int64_t hrnet_macs(const pose::HRNetConfig& c);

struct ZoomNetMacs {
  int64_t body = 0, face = 0, hand = 0;  // hand: both hands (the HandHead runs twice per person)
  int64_t total() const { return body + face + hand; }
};
// ZoomNet on one person crop, as wbpose-info counts it; a head adds its 1x1 adapter at its input size.
ZoomNetMacs zoomnet_macs(const pose::ZoomNetConfig& c);

double to_gflops(int64_t macs);     // macs / 1024^3
int64_t to_macs(double gflops);     // floor(gflops x 1024^3): a budget in GFLOPs as macs

}  // namespace wb::nas
