// S-ViPNAS (Xu et al., CVPR'21; spec/hrnet-mspn-vipnas-openpose.md §2.5) as MMPose 1.x builds it:
// the searched backbones ViPNAS_ResNet (depth 50) and ViPNAS_MobileNetV3 with MMPose's
// constructor arrays, and ViPNASHead (deconvolutions with groups, BN, ReLU; final 1x1 conv).
// The defaults are MMPose's (td-hm_vipnas-{res50,mbv3}_8xb64-210e_coco-256x192.py).
//
// MMPose's arrays start with a stem entry; where MMPose has None there (expan, dep, group, att)
// our array drops it and has one entry per stage. So the ResNet's wid and ks have 5 entries
// (stem, stages 1-4) and expan, dep, group, att 4; the MobileNetV3's wid, ks, stride and act 7
// (stem, stages 1-6) and expan, dep, group, att 6.
//
// JSON: "type" "vipnas_resnet" or "vipnas_mbv3", then the fields named below, each defaulted,
// unknown ones an error naming them.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "nn/layers.h"

namespace wb::pose {

class ConfigReader;

// ViPNASHead's deconvolution layers: kernel 4, 3 or 2 (stride 2, MMPose's padding rule), groups
// dividing each layer's input and output channels.
struct ViPNASHeadConfig {
  std::vector<int64_t> deconv_channels;
  std::vector<int64_t> deconv_kernels;
  std::vector<int64_t> deconv_groups;

  void validate(const std::string& where, int64_t in_channels) const;  // in_channels: the backbone's
};

// ViPNAS_ResNet: stem conv ks[0] x ks[0] s2 to wid[0] + BN + ReLU + 3x3 s2 max pool, then stage
// i (1-4) of dep[i] Bottlenecks with planes wid[i], output wid[i] x expan[i], middle conv of
// kernel ks[i] and group[i] groups, GC attention where att[i], first block strided by strides[i].
struct ViPNASResNetConfig {
  int64_t num_keypoints = 17;
  std::array<int64_t, 2> input_size{256, 192};  // H, W
  int64_t depth = 50;                           // the only depth MMPose's ViPNAS_ResNet has
  std::vector<int64_t> wid{48, 80, 160, 304, 608};
  std::vector<int64_t> expan{1, 1, 1, 1};
  std::vector<int64_t> dep{4, 6, 7, 3};
  std::vector<int64_t> ks{7, 3, 5, 5, 5};
  std::vector<int64_t> group{16, 16, 16, 16};
  std::vector<bool> att{true, false, true, true};
  std::vector<int64_t> strides{1, 2, 2, 2};
  ViPNASHeadConfig head{{144, 144, 144}, {4, 4, 4}, {16, 16, 16}};

  int64_t out_channels() const { return wid.at(4) * expan.at(3); }  // of the last stage
  void validate(const std::string& where) const;                   // errors name the field
};

// ViPNAS_MobileNetV3: stem ConvModule (ks[0] x ks[0], stride[0], wid[0], BN, act[0]), then stage
// i (1-6) of dep[i] InvertedResiduals to wid[i] with mid channels wid[i] x expan[i] (no expand
// conv when expan[i] is 1), a ks[i] x ks[i] conv of group[i] groups (stride[i] in the first
// block), SE (ratio 4, ReLU / HSigmoid(bias 1, divisor 2)) where att[i], activation act[i].
struct ViPNASMobileNetV3Config {
  int64_t num_keypoints = 17;
  std::array<int64_t, 2> input_size{256, 192};  // H, W
  std::vector<int64_t> wid{16, 16, 24, 40, 80, 112, 160};
  std::vector<int64_t> expan{1, 5, 4, 5, 5, 6};
  std::vector<int64_t> dep{1, 4, 4, 4, 4, 4};
  std::vector<int64_t> ks{3, 3, 7, 7, 5, 7, 5};
  std::vector<int64_t> group{8, 120, 20, 100, 280, 240};
  std::vector<bool> att{true, true, false, true, true, true};
  std::vector<int64_t> stride{2, 1, 2, 2, 2, 1, 2};
  std::vector<std::string> act{"HSwish", "ReLU", "ReLU", "ReLU", "HSwish", "HSwish", "HSwish"};
  ViPNASHeadConfig head{{160, 160, 160}, {4, 4, 4}, {160, 160, 160}};

  int64_t out_channels() const { return wid.at(6); }
  void validate(const std::string& where) const;  // errors name the field
};

// mmcv's activation type names: "ReLU", "HSwish", "HSigmoid" (bias 3, divisor 6), "Sigmoid",
// "PReLU". Errors name `where` and `field`.
nn::Activation vipnas_activation(const std::string& name, const std::string& where, const std::string& field);

// "type" must be "vipnas_resnet" / "vipnas_mbv3" when present. `where` names the source in errors.
ViPNASResNetConfig vipnas_resnet_config_from_json(const nlohmann::json& j, const std::string& where);
ViPNASMobileNetV3Config vipnas_mbv3_config_from_json(const nlohmann::json& j, const std::string& where);
nlohmann::json to_json(const ViPNASResNetConfig& c);
nlohmann::json to_json(const ViPNASMobileNetV3Config& c);

}  // namespace wb::pose
