#include "pose/models/vipnas_mbv3.h"

#include "autograd/ops_basic.h"
#include "tensor/error.h"

namespace wb::pose {

namespace {

std::shared_ptr<nn::ConvModule> conv_module(int64_t cin, int64_t cout, int64_t kernel, int64_t stride, int64_t groups,
                                            nn::Activation act) {
  nn::ConvModuleOptions o;
  o.conv.in_channels = cin;
  o.conv.out_channels = cout;
  o.conv.kernel = kernel;
  o.conv.stride = stride;
  o.conv.padding = kernel / 2;
  o.conv.groups = groups;
  o.act = act;
  return std::make_shared<nn::ConvModule>(o);
}

}  // namespace

InvertedResidual::InvertedResidual(const InvertedResidualOptions& o)
    : residual_(o.stride == 1 && o.in_channels == o.out_channels) {
  check(o.stride == 1 || o.stride == 2, "InvertedResidual: stride ", o.stride, " is not 1 or 2");
  check(o.expand || o.in_channels == o.mid_channels, "InvertedResidual: without an expand conv the input channels (",
        o.in_channels, ") must equal the mid channels (", o.mid_channels, ")");
  if (o.expand) {
    expand_conv = register_module("expand_conv", conv_module(o.in_channels, o.mid_channels, 1, 1, 1, o.act));
  }
  depthwise_conv = register_module(
      "depthwise_conv", conv_module(o.mid_channels, o.mid_channels, o.kernel, o.stride, o.groups, o.act));
  if (o.se) {
    se = register_module("se", std::make_shared<nn::SELayer>(nn::SELayerOptions{.channels = o.mid_channels,
                                                                                 .ratio = 4,
                                                                                 .gate = nn::Activation::HSigmoid,
                                                                                 .gate_bias = 1.0,
                                                                                 .gate_divisor = 2.0}));
  }
  linear_conv = register_module("linear_conv",
                                conv_module(o.mid_channels, o.out_channels, 1, 1, 1, nn::Activation::None));
}

Tensor InvertedResidual::forward(const Tensor& x) {
  Tensor y = expand_conv ? (*expand_conv)(x) : x;
  y = (*depthwise_conv)(y);
  if (se) y = (*se)(y);
  y = (*linear_conv)(y);
  return residual_ ? ops::add(x, y) : y;
}

ViPNASMobileNetV3::ViPNASMobileNetV3(const ViPNASMobileNetV3Config& c) {
  const std::string where = "ViPNAS_MobileNetV3";
  conv1 = register_module("conv1", conv_module(3, c.wid[0], c.ks[0], c.stride[0], 1,
                                               vipnas_activation(c.act[0], where, "act")));
  for (size_t i = 0; i < 6; ++i) {
    InvertedResidualOptions o;
    o.out_channels = c.wid[i + 1];
    o.mid_channels = c.wid[i + 1] * c.expan[i];
    o.kernel = c.ks[i + 1];
    o.groups = c.group[i];
    o.se = c.att[i];
    o.expand = c.expan[i] != 1;
    o.act = vipnas_activation(c.act[i + 1], where, "act");
    for (int64_t j = 0; j < c.dep[i]; ++j) {
      o.in_channels = j == 0 ? c.wid[i] : c.wid[i + 1];
      o.stride = j == 0 ? c.stride[i + 1] : 1;
      layers.push_back(register_module("layer" + std::to_string(layers.size() + 1),
                                       std::make_shared<InvertedResidual>(o)));
    }
  }
  out_channels_ = c.wid[6];
}

Tensor ViPNASMobileNetV3::forward(const Tensor& x) {
  check(x.dim() == 4 && x.size(1) == 3, "ViPNAS_MobileNetV3: input ", x.str(), " must be [N, 3, H, W]");
  Tensor y = (*conv1)(x);
  for (auto& layer : layers) y = (*layer)(y);
  return y;
}

}  // namespace wb::pose
