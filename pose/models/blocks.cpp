#include "pose/models/blocks.h"

#include "autograd/ops_basic.h"
#include "autograd/ops_pose.h"
#include "tensor/error.h"

namespace wb::pose {

Tensor NearestUpsample::forward(const Tensor& x) {
  check(x.dim() == 4, "Upsample: expected [N, C, H, W], got ", x.str());
  kernels::ResizeParams p;
  p.out_h = x.size(2) * scale_;
  p.out_w = x.size(3) * scale_;
  p.scale_h = p.scale_w = static_cast<double>(scale_);
  return ops::upsample_nearest(x, p);
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

Bottleneck::Bottleneck(int64_t cin, int64_t planes, int64_t stride, std::shared_ptr<nn::Module> ds,
                       int64_t groups) {
  conv1 = register_module("conv1", make_conv(cin, planes, 1));
  bn1 = register_module("bn1", std::make_shared<nn::BatchNorm2d>(planes));
  conv2 = register_module("conv2", make_conv(planes, planes, 3, stride, groups));
  bn2 = register_module("bn2", std::make_shared<nn::BatchNorm2d>(planes));
  conv3 = register_module("conv3", make_conv(planes, planes * 4, 1));
  bn3 = register_module("bn3", std::make_shared<nn::BatchNorm2d>(planes * 4));
  if (ds) downsample = register_module("downsample", std::move(ds));
}

Tensor Bottleneck::forward(const Tensor& x) {
  Tensor out = conv1->forward_bn(*bn1, x, true);
  out = conv2->forward_bn(*bn2, out, true);
  return conv3->forward_bn(*bn3, out, true, downsample ? (*downsample)(x) : x);
}

std::shared_ptr<nn::Sequential> make_res_layer(BlockKind kind, int64_t cin, int64_t planes, int64_t blocks,
                                               int64_t stride, int64_t groups) {
  const int64_t cout = planes * expansion(kind);
  std::shared_ptr<nn::Sequential> ds;
  if (stride != 1 || cin != cout) {
    ds = std::make_shared<nn::Sequential>();
    ds->push_back(make_conv(cin, cout, 1, stride));
    ds->push_back(std::make_shared<nn::BatchNorm2d>(cout));
  }
  auto layer = std::make_shared<nn::Sequential>();
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t in = b == 0 ? cin : cout;
    const int64_t s = b == 0 ? stride : 1;
    if (kind == BlockKind::Basic) {
      layer->push_back(std::make_shared<BasicBlock>(in, planes, s, b == 0 ? ds : nullptr, groups));
    } else {
      layer->push_back(std::make_shared<Bottleneck>(in, planes, s, b == 0 ? ds : nullptr, groups));
    }
  }
  return layer;
}

}  // namespace wb::pose
