#include "pose/models/simple_baseline.h"

#include <algorithm>

#include "pose/models/config_reader.h"
#include "tensor/error.h"

namespace wb::pose {

namespace {

struct ResNetArch {
  BlockKind kind;
  std::array<int64_t, 4> blocks;
};

ResNetArch resnet_arch(int64_t depth) {
  switch (depth) {
    case 18: return {BlockKind::Basic, {2, 2, 2, 2}};
    case 34: return {BlockKind::Basic, {3, 4, 6, 3}};
    case 50: return {BlockKind::Bottleneck, {3, 4, 6, 3}};
    case 101: return {BlockKind::Bottleneck, {3, 4, 23, 3}};
    case 152: return {BlockKind::Bottleneck, {3, 8, 36, 3}};
    default: fail("ResNet: depth ", depth, " is not one of 18, 34, 50, 101, 152");
  }
}

}  // namespace

void SimpleBaselineConfig::validate(const std::string& where) const {
  auto positive = [&](const char* field, int64_t v) {
    check(v > 0, where, ": field \"", field, "\" must be positive, got ", v);
  };
  positive("num_keypoints", num_keypoints);
  positive("input_size", std::min(input_size[0], input_size[1]));
  positive("stem_channels", stem_channels);
  positive("base_channels", base_channels);
  check(depth == 18 || depth == 34 || depth == 50 || depth == 101 || depth == 152, where,
        ": field \"depth\" must be 18, 34, 50, 101 or 152, got ", depth);
  check(deconv_channels.size() == deconv_kernels.size(), where, ": fields \"deconv_channels\" (",
        deconv_channels.size(), " entries) and \"deconv_kernels\" (", deconv_kernels.size(),
        ") must have the same length");
  for (int64_t c : deconv_channels) positive("deconv_channels", c);
  for (int64_t k : deconv_kernels) {
    check(k == 2 || k == 3 || k == 4, where, ": field \"deconv_kernels\": ", k, " is not 2, 3 or 4");
  }
}

SimpleBaselineConfig simple_baseline_config_from_json(const nlohmann::json& j, const std::string& where) {
  ConfigReader r(j, where);
  std::string type = "simplebaseline";
  r.get("type", type);
  if (type != "simplebaseline") r.fail_field("type", "expected \"simplebaseline\", got \"" + type + "\"");
  SimpleBaselineConfig c;
  r.get("num_keypoints", c.num_keypoints);
  r.get("input_size", c.input_size);
  r.get("depth", c.depth);
  r.get("stem_channels", c.stem_channels);
  r.get("base_channels", c.base_channels);
  r.get("deconv_channels", c.deconv_channels);
  r.get("deconv_kernels", c.deconv_kernels);
  r.finish();
  c.validate(where);
  return c;
}

nlohmann::json to_json(const SimpleBaselineConfig& c) {
  return {{"type", "simplebaseline"},
          {"num_keypoints", c.num_keypoints},
          {"input_size", c.input_size},
          {"depth", c.depth},
          {"stem_channels", c.stem_channels},
          {"base_channels", c.base_channels},
          {"deconv_channels", c.deconv_channels},
          {"deconv_kernels", c.deconv_kernels}};
}

ResNet::ResNet(int64_t depth, int64_t stem_channels, int64_t base_channels) {
  const ResNetArch arch = resnet_arch(depth);
  nn::Conv2dOptions stem;
  stem.in_channels = 3;
  stem.out_channels = stem_channels;
  stem.kernel = 7;
  stem.stride = 2;
  stem.padding = 3;
  stem.bias = false;
  conv1 = register_module("conv1", std::make_shared<nn::Conv2d>(stem));
  bn1 = register_module("bn1", std::make_shared<nn::BatchNorm2d>(stem_channels));
  kernels::Pool2dParams pool;
  pool.kernel = {3, 3};
  pool.stride = {2, 2};
  pool.padding = {1, 1};
  maxpool = register_module("maxpool", std::make_shared<nn::MaxPool2d>(pool));
  int64_t cin = stem_channels;
  for (int i = 0; i < 4; ++i) {
    const int64_t planes = base_channels << i;
    layers[i] = register_module("layer" + std::to_string(i + 1),
                                make_res_layer(arch.kind, cin, planes, arch.blocks[i], i == 0 ? 1 : 2));
    cin = planes * expansion(arch.kind);
  }
  out_channels_ = cin;
}

Tensor ResNet::forward(const Tensor& x) {
  check(x.dim() == 4 && x.size(1) == 3, "ResNet: input ", x.str(), " must be [N, 3, H, W]");
  Tensor y = (*maxpool)(conv1->forward_bn(*bn1, x, true));
  for (auto& layer : layers) y = (*layer)(y);
  return y;
}

}  // namespace wb::pose
