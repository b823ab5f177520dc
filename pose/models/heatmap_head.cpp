#include "pose/models/heatmap_head.h"

#include "nn/init.h"
#include "tensor/error.h"

namespace wb::pose {

HeatmapHead::HeatmapHead(const HeatmapHeadOptions& o) {
  check(o.in_channels > 0 && o.num_keypoints > 0, "HeatmapHead: in_channels ", o.in_channels, " and num_keypoints ",
        o.num_keypoints, " must be positive");
  check(o.deconv_channels.size() == o.deconv_kernels.size(), "HeatmapHead: ", o.deconv_channels.size(),
        " deconv channel counts but ", o.deconv_kernels.size(), " kernel sizes");
  check(o.deconv_groups.empty() || o.deconv_groups.size() == o.deconv_channels.size(), "HeatmapHead: ",
        o.deconv_channels.size(), " deconv channel counts but ", o.deconv_groups.size(), " group counts");
  int64_t c = o.in_channels;
  if (!o.deconv_channels.empty()) {
    deconv_layers = register_module("deconv_layers", std::make_shared<nn::Sequential>());
    for (size_t i = 0; i < o.deconv_channels.size(); ++i) {
      // MMPose's rule: output exactly twice the input size for kernels 4, 3 and 2.
      const int64_t k = o.deconv_kernels[i];
      check(k == 4 || k == 3 || k == 2, "HeatmapHead: deconv kernel ", k, " is not 4, 3 or 2");
      nn::ConvTranspose2dOptions d;
      d.in_channels = c;
      d.out_channels = o.deconv_channels[i];
      d.kernel = k;
      d.stride = 2;
      d.padding = k == 2 ? 0 : 1;
      d.output_padding = k == 3 ? 1 : 0;
      d.groups = o.deconv_groups.empty() ? 1 : o.deconv_groups[i];
      check(d.groups > 0 && c % d.groups == 0 && d.out_channels % d.groups == 0, "HeatmapHead: deconv groups ",
            d.groups, " must divide its input (", c, ") and output (", d.out_channels, ") channels");
      d.bias = false;
      deconv_layers->push_back(std::make_shared<nn::ConvTranspose2d>(d));
      deconv_layers->push_back(std::make_shared<nn::BatchNorm2d>(d.out_channels));
      deconv_layers->push_back(std::make_shared<nn::ReLU>());
      c = d.out_channels;
    }
  }
  if (!o.conv_channels.empty()) {
    conv_layers = register_module("conv_layers", std::make_shared<nn::Sequential>());
    for (int64_t cout : o.conv_channels) {
      nn::Conv2dOptions k;
      k.in_channels = c;
      k.out_channels = cout;
      conv_layers->push_back(std::make_shared<nn::Conv2d>(k));
      conv_layers->push_back(std::make_shared<nn::BatchNorm2d>(cout));
      conv_layers->push_back(std::make_shared<nn::ReLU>());
      c = cout;
    }
  }
  nn::Conv2dOptions f;
  f.in_channels = c;
  f.out_channels = o.num_keypoints;
  final_layer = register_module("final_layer", std::make_shared<nn::Conv2d>(f));
}

Tensor HeatmapHead::forward(const Tensor& x) {
  Tensor y = x;
  if (deconv_layers) y = (*deconv_layers)(y);
  if (conv_layers) y = (*conv_layers)(y);
  return (*final_layer)(y);
}

TopDownModel::TopDownModel(std::shared_ptr<nn::Module> bb, std::shared_ptr<HeatmapHead> hd, int64_t num_keypoints,
                           std::array<int64_t, 2> input_size, BackboneInit init)
    : num_keypoints_(num_keypoints), input_size_(input_size), init_(init) {
  backbone = register_module("backbone", std::move(bb));
  head = register_module("head", std::move(hd));
}

Tensor TopDownModel::forward(const Tensor& x) { return (*head)((*backbone)(x)); }

namespace {

void init_tree(nn::Module& root, Generator& gen, bool kaiming) {
  for (auto& [name, m] : root.named_modules()) {
    if (auto* conv = dynamic_cast<nn::Conv2d*>(m)) {
      if (kaiming) {
        nn::init::kaiming_normal_(conv->weight, gen);
      } else {
        nn::init::normal_(conv->weight, gen, 0.0, 0.001);
      }
      if (conv->bias.defined()) nn::init::constant_(conv->bias, 0.0);
    } else if (auto* deconv = dynamic_cast<nn::ConvTranspose2d*>(m)) {
      nn::init::normal_(deconv->weight, gen, 0.0, 0.001);
      if (deconv->bias.defined()) nn::init::constant_(deconv->bias, 0.0);
    } else if (auto* bn = dynamic_cast<nn::BatchNorm2d*>(m)) {
      nn::init::constant_(bn->weight, 1.0);
      nn::init::constant_(bn->bias, 0.0);
    }
  }
}

}  // namespace

void init_module_weights(nn::Module& root, Generator& gen, BackboneInit init) {
  init_tree(root, gen, init == BackboneInit::KaimingNormal);
  if (init != BackboneInit::ViPNAS) return;
  for (auto& [name, child] : root.children()) {
    if (auto* conv_module = dynamic_cast<nn::ConvModule*>(child.get())) conv_module->reset_parameters(gen);
  }
}

void TopDownModel::init_weights(Generator& gen) {
  init_module_weights(*backbone, gen, init_);
  init_tree(*head, gen, false);
}

}  // namespace wb::pose
