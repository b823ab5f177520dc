#include "pose/models/vipnas_config.h"

#include <algorithm>

#include "pose/models/config_reader.h"
#include "tensor/error.h"

namespace wb::pose {

namespace {

template <class T>
void require_size(const std::string& where, const char* field, const std::vector<T>& v, size_t n) {
  check(v.size() == n, where, ": field \"", field, "\" must have ", n, " entries, got ", v.size());
}

void require_positive(const std::string& where, const char* field, const std::vector<int64_t>& v) {
  for (size_t i = 0; i < v.size(); ++i) {
    check(v[i] > 0, where, ": field \"", field, "\" entry ", i, " must be positive, got ", v[i]);
  }
}

// Kernels are padded by k / 2, which keeps the size (or halves it at stride 2) only for odd k.
void require_odd(const std::string& where, const char* field, const std::vector<int64_t>& v) {
  for (size_t i = 0; i < v.size(); ++i) {
    check(v[i] % 2 == 1, where, ": field \"", field, "\" entry ", i, " must be an odd kernel size, got ", v[i]);
  }
}

void require_common(const std::string& where, int64_t num_keypoints, const std::array<int64_t, 2>& input_size) {
  check(num_keypoints > 0, where, ": field \"num_keypoints\" must be positive, got ", num_keypoints);
  check(std::min(input_size[0], input_size[1]) > 0, where, ": field \"input_size\" must be positive, got [",
        input_size[0], ", ", input_size[1], "]");
}

void read_head(ConfigReader& r, ViPNASHeadConfig& h) {
  r.get("deconv_channels", h.deconv_channels);
  r.get("deconv_kernels", h.deconv_kernels);
  r.get("deconv_groups", h.deconv_groups);
}

void write_head(nlohmann::json& j, const ViPNASHeadConfig& h) {
  j["deconv_channels"] = h.deconv_channels;
  j["deconv_kernels"] = h.deconv_kernels;
  j["deconv_groups"] = h.deconv_groups;
}

}  // namespace

void ViPNASHeadConfig::validate(const std::string& where, int64_t in_channels) const {
  require_size(where, "deconv_kernels", deconv_kernels, deconv_channels.size());
  require_size(where, "deconv_groups", deconv_groups, deconv_channels.size());
  require_positive(where, "deconv_channels", deconv_channels);
  require_positive(where, "deconv_groups", deconv_groups);
  int64_t c = in_channels;
  for (size_t i = 0; i < deconv_channels.size(); ++i) {
    const int64_t k = deconv_kernels[i];
    check(k == 2 || k == 3 || k == 4, where, ": field \"deconv_kernels\" entry ", i, ": ", k, " is not 2, 3 or 4");
    check(c % deconv_groups[i] == 0 && deconv_channels[i] % deconv_groups[i] == 0, where,
          ": field \"deconv_groups\" entry ", i, " (", deconv_groups[i], ") must divide the layer's input (", c,
          ") and output (", deconv_channels[i], ") channels");
    c = deconv_channels[i];
  }
}

nn::Activation vipnas_activation(const std::string& name, const std::string& where, const std::string& field) {
  if (name == "ReLU") return nn::Activation::ReLU;
  if (name == "HSwish") return nn::Activation::HSwish;
  if (name == "HSigmoid") return nn::Activation::HSigmoid;
  if (name == "Sigmoid") return nn::Activation::Sigmoid;
  if (name == "PReLU") return nn::Activation::PReLU;
  fail(where, ": field \"", field, "\": unknown activation \"", name,
       "\" (expected \"ReLU\", \"HSwish\", \"HSigmoid\", \"Sigmoid\" or \"PReLU\")");
}

void ViPNASResNetConfig::validate(const std::string& where) const {
  require_common(where, num_keypoints, input_size);
  check(depth == 50, where, ": field \"depth\" must be 50 (MMPose's ViPNAS_ResNet has no other), got ", depth);
  require_size(where, "wid", wid, 5);
  require_size(where, "ks", ks, 5);
  require_size(where, "expan", expan, 4);
  require_size(where, "dep", dep, 4);
  require_size(where, "group", group, 4);
  require_size(where, "att", att, 4);
  require_size(where, "strides", strides, 4);
  require_positive(where, "wid", wid);
  require_positive(where, "ks", ks);
  require_positive(where, "expan", expan);
  require_positive(where, "dep", dep);
  require_positive(where, "group", group);
  require_positive(where, "strides", strides);
  require_odd(where, "ks", ks);
  for (size_t i = 0; i < 4; ++i) {
    check(wid[i + 1] % group[i] == 0, where, ": field \"group\" entry ", i, " (", group[i],
          ") must divide the stage's planes (wid entry ", i + 1, ": ", wid[i + 1], ")");
  }
  head.validate(where, out_channels());
}

void ViPNASMobileNetV3Config::validate(const std::string& where) const {
  require_common(where, num_keypoints, input_size);
  require_size(where, "wid", wid, 7);
  require_size(where, "ks", ks, 7);
  require_size(where, "stride", stride, 7);
  require_size(where, "act", act, 7);
  require_size(where, "expan", expan, 6);
  require_size(where, "dep", dep, 6);
  require_size(where, "group", group, 6);
  require_size(where, "att", att, 6);
  require_positive(where, "wid", wid);
  require_positive(where, "ks", ks);
  require_positive(where, "stride", stride);
  require_positive(where, "expan", expan);
  require_positive(where, "dep", dep);
  require_positive(where, "group", group);
  require_odd(where, "ks", ks);
  for (const std::string& a : act) vipnas_activation(a, where, "act");
  for (size_t i = 0; i < 6; ++i) {
    const int64_t mid = wid[i + 1] * expan[i];
    check(stride[i + 1] <= 2, where, ": field \"stride\" entry ", i + 1, " must be 1 or 2 (an inverted residual's), got ",
          stride[i + 1]);
    check(mid % group[i] == 0, where, ": field \"group\" entry ", i, " (", group[i],
          ") must divide the stage's mid channels (wid x expan = ", mid, ")");
    // Without an expand conv the depthwise conv reads the block input directly.
    check(expan[i] != 1 || wid[i] == wid[i + 1], where, ": field \"expan\" entry ", i,
          " is 1 (no expand conv), so the stage's input width (wid entry ", i, ": ", wid[i],
          ") must equal its width (", wid[i + 1], ")");
    check(!att[i] || mid >= 4, where, ": field \"att\" entry ", i, ": the SE block's mid / 4 channels of ", mid,
          " are none");
  }
  head.validate(where, out_channels());
}

ViPNASResNetConfig vipnas_resnet_config_from_json(const nlohmann::json& j, const std::string& where) {
  ConfigReader r(j, where);
  std::string type = "vipnas_resnet";
  r.get("type", type);
  if (type != "vipnas_resnet") r.fail_field("type", "expected \"vipnas_resnet\", got \"" + type + "\"");
  ViPNASResNetConfig c;
  r.get("num_keypoints", c.num_keypoints);
  r.get("input_size", c.input_size);
  r.get("depth", c.depth);
  r.get("wid", c.wid);
  r.get("expan", c.expan);
  r.get("dep", c.dep);
  r.get("ks", c.ks);
  r.get("group", c.group);
  r.get("att", c.att);
  r.get("strides", c.strides);
  read_head(r, c.head);
  r.finish();
  c.validate(where);
  return c;
}

ViPNASMobileNetV3Config vipnas_mbv3_config_from_json(const nlohmann::json& j, const std::string& where) {
  ConfigReader r(j, where);
  std::string type = "vipnas_mbv3";
  r.get("type", type);
  if (type != "vipnas_mbv3") r.fail_field("type", "expected \"vipnas_mbv3\", got \"" + type + "\"");
  ViPNASMobileNetV3Config c;
  r.get("num_keypoints", c.num_keypoints);
  r.get("input_size", c.input_size);
  r.get("wid", c.wid);
  r.get("expan", c.expan);
  r.get("dep", c.dep);
  r.get("ks", c.ks);
  r.get("group", c.group);
  r.get("att", c.att);
  r.get("stride", c.stride);
  r.get("act", c.act);
  read_head(r, c.head);
  r.finish();
  c.validate(where);
  return c;
}

nlohmann::json to_json(const ViPNASResNetConfig& c) {
  nlohmann::json j = {{"type", "vipnas_resnet"},
                      {"num_keypoints", c.num_keypoints},
                      {"input_size", c.input_size},
                      {"depth", c.depth},
                      {"wid", c.wid},
                      {"expan", c.expan},
                      {"dep", c.dep},
                      {"ks", c.ks},
                      {"group", c.group},
                      {"att", c.att},
                      {"strides", c.strides}};
  write_head(j, c.head);
  return j;
}

nlohmann::json to_json(const ViPNASMobileNetV3Config& c) {
  nlohmann::json j = {{"type", "vipnas_mbv3"},
                      {"num_keypoints", c.num_keypoints},
                      {"input_size", c.input_size},
                      {"wid", c.wid},
                      {"expan", c.expan},
                      {"dep", c.dep},
                      {"ks", c.ks},
                      {"group", c.group},
                      {"att", c.att},
                      {"stride", c.stride},
                      {"act", c.act}};
  write_head(j, c.head);
  return j;
}

}  // namespace wb::pose
