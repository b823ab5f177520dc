#include "pose/models/blocks.h"

#include <algorithm>
#include <utility>

#include "autograd/ops_basic.h"
#include "autograd/ops_pose.h"
#include "tensor/error.h"

namespace wb::pose {

Tensor Upsample::forward(const Tensor& x) {
  check(x.dim() == 4, "Upsample: expected [N, C, H, W], got ", x.str());
  kernels::ResizeParams p;
  p.out_h = x.size(2) * scale_;
  p.out_w = x.size(3) * scale_;
  p.scale_h = p.scale_w = static_cast<double>(scale_);  // as nn.Upsample passes its scale_factor on
  p.align_corners = false;
  return mode_ == Mode::Bilinear ? ops::resize_bilinear(x, p) : ops::upsample_nearest(x, p);
}

std::shared_ptr<nn::Conv2d> make_conv(int64_t cin, int64_t cout, int64_t kernel, int64_t stride, int64_t groups) {
  nn::Conv2dOptions o;
  o.in_channels = cin;
  o.out_channels = cout;
  o.kernel = kernel;
  o.stride = stride;
  o.padding = kernel / 2;
  o.groups = groups;
  o.bias = false;
  return std::make_shared<nn::Conv2d>(o);
}

int64_t expansion(BlockKind kind) { return kind == BlockKind::Basic ? 1 : 4; }

BasicBlock::BasicBlock(int64_t cin, int64_t planes, int64_t stride, std::shared_ptr<nn::Module> ds,
                       int64_t groups) {
  conv1 = register_module("conv1", make_conv(cin, planes, 3, stride, groups));
  bn1 = register_module("bn1", std::make_shared<nn::BatchNorm2d>(planes));
  conv2 = register_module("conv2", make_conv(planes, planes, 3, 1, groups));
  bn2 = register_module("bn2", std::make_shared<nn::BatchNorm2d>(planes));
  if (ds) downsample = register_module("downsample", std::move(ds));
}

Tensor BasicBlock::forward(const Tensor& x) {
  const Tensor out = conv1->forward_bn(*bn1, x, true);
  return conv2->forward_bn(*bn2, out, true, downsample ? (*downsample)(x) : x);
}

Bottleneck::Bottleneck(int64_t cin, int64_t planes, int64_t stride, std::shared_ptr<nn::Module> ds, int64_t groups)
    : Bottleneck(cin, planes, stride, std::move(ds), BottleneckOptions{.groups = groups}) {}

Bottleneck::Bottleneck(int64_t cin, int64_t planes, int64_t stride, std::shared_ptr<nn::Module> ds,
                       const BottleneckOptions& o) {
  const int64_t cout = planes * o.expansion;
  conv1 = register_module("conv1", make_conv(cin, planes, 1));
  bn1 = register_module("bn1", std::make_shared<nn::BatchNorm2d>(planes));
  conv2 = register_module("conv2", make_conv(planes, planes, o.kernel, stride, o.groups));
  bn2 = register_module("bn2", std::make_shared<nn::BatchNorm2d>(planes));
  conv3 = register_module("conv3", make_conv(planes, cout, 1));
  bn3 = register_module("bn3", std::make_shared<nn::BatchNorm2d>(cout));
  if (o.attention) {
    // ViPNAS_Bottleneck's ratio, computed in double as Python does (ContextBlock truncates C * ratio).
    const double ratio = std::max(1.0 / 16.0, 16.0 / static_cast<double>(cout));
    attention = register_module(
        "attention", std::make_shared<nn::ContextBlock>(nn::ContextBlockOptions{.in_channels = cout, .ratio = ratio}));
  }
  if (ds) downsample = register_module("downsample", std::move(ds));
}

Tensor Bottleneck::forward(const Tensor& x) {
  Tensor out = conv1->forward_bn(*bn1, x, true);
  out = conv2->forward_bn(*bn2, out, true);
  const Tensor identity = downsample ? (*downsample)(x) : x;
  if (!attention) return conv3->forward_bn(*bn3, out, true, identity);
  return ops::relu(ops::add((*attention)(conv3->forward_bn(*bn3, out, false)), identity));
}

namespace {

template <class MakeBlock>
std::shared_ptr<nn::Sequential> res_layer(int64_t cin, int64_t cout, int64_t blocks, int64_t stride,
                                          const MakeBlock& make_block) {
  std::shared_ptr<nn::Sequential> ds;
  if (stride != 1 || cin != cout) {
    ds = std::make_shared<nn::Sequential>();
    ds->push_back(make_conv(cin, cout, 1, stride));
    ds->push_back(std::make_shared<nn::BatchNorm2d>(cout));
  }
  auto layer = std::make_shared<nn::Sequential>();
  for (int64_t b = 0; b < blocks; ++b) {
    layer->push_back(make_block(b == 0 ? cin : cout, b == 0 ? stride : 1, b == 0 ? ds : nullptr));
  }
  return layer;
}

}  // namespace

std::shared_ptr<nn::Sequential> make_res_layer(BlockKind kind, int64_t cin, int64_t planes, int64_t blocks,
                                               int64_t stride, int64_t groups) {
  if (kind == BlockKind::Bottleneck) {
    return make_bottleneck_layer(cin, planes, blocks, stride, BottleneckOptions{.groups = groups});
  }
  return res_layer(cin, planes * expansion(kind), blocks, stride,
                   [&](int64_t in, int64_t s, std::shared_ptr<nn::Sequential> ds) -> std::shared_ptr<nn::Module> {
                     return std::make_shared<BasicBlock>(in, planes, s, std::move(ds), groups);
                   });
}

std::shared_ptr<nn::Sequential> make_bottleneck_layer(int64_t cin, int64_t planes, int64_t blocks, int64_t stride,
                                                      const BottleneckOptions& o) {
  return res_layer(cin, planes * o.expansion, blocks, stride,
                   [&](int64_t in, int64_t s, std::shared_ptr<nn::Sequential> ds) -> std::shared_ptr<nn::Module> {
                     return std::make_shared<Bottleneck>(in, planes, s, std::move(ds), o);
                   });
}

}  // namespace wb::pose
