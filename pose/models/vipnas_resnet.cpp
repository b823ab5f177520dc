#include "pose/models/vipnas_resnet.h"

#include "tensor/error.h"

namespace wb::pose {

ViPNASResNet::ViPNASResNet(const ViPNASResNetConfig& c) {
  conv1 = register_module("conv1", make_conv(3, c.wid[0], c.ks[0], 2));
  bn1 = register_module("bn1", std::make_shared<nn::BatchNorm2d>(c.wid[0]));
  kernels::Pool2dParams pool;
  pool.kernel = {3, 3};
  pool.stride = {2, 2};
  pool.padding = {1, 1};
  maxpool = register_module("maxpool", std::make_shared<nn::MaxPool2d>(pool));
  int64_t cin = c.wid[0];
  for (size_t i = 0; i < 4; ++i) {
    const BottleneckOptions block{.groups = c.group[i], .kernel = c.ks[i + 1], .expansion = c.expan[i],
                                  .attention = c.att[i]};
    layers[i] = register_module("layer" + std::to_string(i + 1),
                                make_bottleneck_layer(cin, c.wid[i + 1], c.dep[i], c.strides[i], block));
    cin = c.wid[i + 1] * c.expan[i];
  }
  out_channels_ = cin;
}

Tensor ViPNASResNet::forward(const Tensor& x) {
  check(x.dim() == 4 && x.size(1) == 3, "ViPNAS_ResNet: input ", x.str(), " must be [N, 3, H, W]");
  Tensor y = (*maxpool)(conv1->forward_bn(*bn1, x, true));
  for (auto& layer : layers) y = (*layer)(y);
  return y;
}

}  // namespace wb::pose
